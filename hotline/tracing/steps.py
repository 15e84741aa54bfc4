"""Tracing's worker step (``HOTLINE_WORKER_STEPS``); the work is in services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.tracing import services
from hotline.tracing.conf import TraceConfig


def trace_step(*, now: datetime | None = None, config: TraceConfig | None = None, concurrency: int = 8) -> bool:
    """Queue untraced items, then trace the due ones, ``concurrency`` at a time; True if there was work."""
    return services.trace_due(now=now or timezone.now(), config=config, concurrency=concurrency)
