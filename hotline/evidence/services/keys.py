"""Rotating the content store's master keys, audited (the re-wrapping itself is ``store.rewrap_keys``)."""

from __future__ import annotations

from django.db import transaction

from hotline.audit.services import SYSTEM, record
from hotline.evidence import actions
from hotline.evidence.store import rewrap_keys, store_keyring


def rotate_keys(batch: int = 500) -> int:
    """Re-wrap every blob's data key with the current master key (see ``store.rewrap_keys``); return how
    many were re-wrapped, and audit the rotation when there were any."""
    rewrapped = rewrap_keys(batch=batch)
    if rewrapped:
        with transaction.atomic():
            record(SYSTEM, actions.STORE_KEYS_ROTATED, ("evidence.blob", "*"),
                   after={"key_id": store_keyring().current, "rewrapped": rewrapped})
    return rewrapped
