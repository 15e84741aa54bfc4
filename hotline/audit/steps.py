"""The audit worker step (``HOTLINE_WORKER_STEPS``): seal the stream heads at a steady interval."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.audit import services


def seal_step(*, now: datetime | None = None) -> bool:
    """Seal the stream heads when the newest seal is older than the interval. True when it sealed."""
    return services.seal_due(now=now or timezone.now())
