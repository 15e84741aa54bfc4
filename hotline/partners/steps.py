"""The exchange's worker steps (``HOTLINE_WORKER_STEPS``); the work is in services and delivery."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.partners import delivery, services
from hotline.partners.delivery import Transport


def verdict_status_step(*, now: datetime | None = None, limit: int = 50) -> bool:
    """Report the verdict of items partners forwarded to us, once per verdict; True if there was work."""
    return services.report_verdicts(now=now or timezone.now(), limit=limit)


def exchange_step(*, now: datetime | None = None, limit: int = 50, transport: Transport | None = None,
                  concurrency: int | None = None) -> bool:
    """Send the due outbound messages once each, several at a time; True if there was work."""
    return delivery.deliver_due(now=now or timezone.now(), limit=limit, transport=transport, concurrency=concurrency)
