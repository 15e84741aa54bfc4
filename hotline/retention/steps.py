"""Retention's worker step (``HOTLINE_WORKER_STEPS``); the work is in services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.retention import services


def retention_step(*, now: datetime | None = None) -> bool:
    """One batch of each class whose daily run is due; True if it purged or has more."""
    return services.purge_due(now=now or timezone.now())
