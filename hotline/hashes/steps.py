"""The hashes domain's worker steps (``HOTLINE_WORKER_STEPS``): thin, the work is in the services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.hashes import services


def match_step(*, now: datetime | None = None, limit: int = 20) -> bool:
    """Worker step: match captures that are not matched yet (``services.match_due``). Returns whether
    there were any."""
    return services.match_due(now=now or timezone.now(), limit=limit)
