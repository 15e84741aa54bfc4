"""Installation-wide changes that the core commands make, each with its audit event."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from hotline.audit.services import Actor, record
from hotline.core import actions
from hotline.lib import fields


def rotate_field_keys(*, actor: Actor, now: datetime | None = None) -> int:
    """Re-encrypt every encrypted field value under the first key of ``HOTLINE_FIELD_KEYS`` (row by row,
    safe while the site runs), then record how many moved. Returns that number."""
    moved = fields.rotate_field_keys()
    with transaction.atomic():
        record(actor, actions.FIELD_KEYS_ROTATED, ("keys", "fields"), now=now,
               after={"values": moved, "current": fields.field_keyring().current})
    return moved
