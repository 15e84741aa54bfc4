"""The connector's worker steps (``HOTLINE_WORKER_STEPS``): pull every minute, push as our cases move.

Both do nothing while the connector is off (no ``HOTLINE_ICCAM_*`` settings) or while ICCAM has asked us
to wait (429 with Retry-After). Each returns whether it found work, so tests call exactly one step.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.iccam import services


def pull_step(*, now: datetime | None = None) -> bool:
    """Once per ``HOTLINE_ICCAM_PULL_SECONDS``: import ICCAM's unreferenced content, write our reference back."""
    return services.pull_due(now=now or timezone.now())


def push_step(*, now: datetime | None = None, limit: int = 20) -> bool:
    """Queue the writes our records call for, then send up to ``limit`` due ones, each claimed alone."""
    return services.push_due(now=now or timezone.now(), limit=limit)
