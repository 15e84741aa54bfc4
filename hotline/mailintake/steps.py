"""Mail intake's worker step (``HOTLINE_WORKER_STEPS``); the work is in services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.mailintake import services
from hotline.mailintake.mailboxes import MailSource, source_from_settings


def mail_step(*, now: datetime | None = None, source: MailSource | None = None, force: bool = False) -> bool:
    """Poll the configured mailbox when it is due (``services.poll_due``). Does nothing when none is configured."""
    source = source or source_from_settings()
    if source is None:
        return False
    return services.poll_due(source, now=now or timezone.now(), force=force)
