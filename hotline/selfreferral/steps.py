"""The self-referral domain's worker step (``HOTLINE_WORKER_STEPS``): thin, the work is in the services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.selfreferral import services
from hotline.selfreferral.services import SCAN_CHUNK


def scan_step(*, now: datetime | None = None, chunk: int = SCAN_CHUNK) -> bool:
    """Worker step: scan the next ``chunk`` media for one confirmed referral whose scan is due
    (``services.scan_due``). Returns whether there was one."""
    return services.scan_due(now=now or timezone.now(), chunk=chunk)
