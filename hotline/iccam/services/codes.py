"""The code table: ICCAM's reference lists fetched (the ``hotline iccam codes`` command) and stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from hotline.audit.services import SYSTEM, record
from hotline.iccam import actions, conf
from hotline.iccam.client import IccamError, IccamSession
from hotline.iccam.models import ENDPOINTS, IccamCode


def load_codes(*, now: datetime | None = None) -> int:
    """Refresh the code table from ICCAM's reference endpoints. Returns how many rows changed."""
    config = conf.config()
    if config is None:
        raise IccamError("the ICCAM connector is not configured", retry=False)
    with IccamSession(config) as session:
        lists = {field: session.get(path) or [] for field, path in ENDPOINTS.items()}
    return store_codes(lists, now=now or timezone.now())


@transaction.atomic
def store_codes(lists: dict[str, list[dict[str, Any]]], *, now: datetime) -> int:
    """Store the reference lists ICCAM serves (``{field: [{id|type, name}]}``): names refreshed, new ids
    added without a code of ours. Returns how many rows changed."""
    changed = 0
    for field, entries in lists.items():
        if field not in ENDPOINTS:
            continue
        for entry in entries:
            iccam_id = int(entry.get("id", entry.get("type", 0)))
            name = str(entry.get("name") or "")[:200]
            row, created = IccamCode.objects.get_or_create(field=field, iccam_id=iccam_id,
                                                           defaults={"name": name, "loaded_at": now})
            if created or row.name != name:
                IccamCode.objects.filter(pk=row.pk).update(name=name, loaded_at=now)
                changed += 1
            else:
                IccamCode.objects.filter(pk=row.pk).update(loaded_at=now)
    record(SYSTEM, actions.CODES_LOADED, ("iccam.iccamcode", 0), now=now, after={"changed": changed})
    return changed
