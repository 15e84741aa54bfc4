"""The statistics worker step (``HOTLINE_WORKER_STEPS``): keep the per-item facts fresh."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.stats import facts


def refresh_step(*, now: datetime | None = None) -> bool:
    """Refresh one batch of missing or stale facts. True when there may be more to do."""
    return facts.refresh_batch(now=now or timezone.now())
