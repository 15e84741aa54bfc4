"""Takedown's worker steps (``HOTLINE_WORKER_STEPS``): each does one batch through the services and returns
whether it found work, so tests call exactly one step. The work itself is in ``hotline.takedown.services``."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.mailintake.mailboxes import MailSource
from hotline.takedown.services import (
    LivenessConfig,
    bounce_source,
    check_due,
    config_from_settings,
    escalate_due,
    follow_up_due,
    queue_repeats,
    read_mailbox,
    send_due,
    send_due_messages,
    take_due_decisions,
)
from hotline.takedown.services.sending import work_due


def notice_step(*, now: datetime | None = None, limit: int = 20) -> bool:
    """Take due routing decisions, queue due repeats, send up to ``limit`` due notices. One query asks whether
    any of the three is due (an idle call's only query); the notices are asked about again when the first two
    did work (a batch may fill, or open with no window)."""
    decisions, repeats, notices = work_due(now or timezone.now())
    found = decisions and take_due_decisions(now=now or timezone.now(), probe=False) > 0
    found = (repeats and queue_repeats(now=now or timezone.now(), probe=False) > 0) or found
    if not (notices or found):
        return False
    return send_due(now=now, limit=limit, probe=found) or found


def liveness_step(*, now: datetime | None = None, config: LivenessConfig | None = None) -> bool:
    """Check one batch of due items (``HOTLINE_TAKEDOWN_CHECK_*``)."""
    return check_due(now=now or timezone.now(), config=config or config_from_settings())


def bounce_step(*, now: datetime | None = None, source: MailSource | None = None, force: bool = False) -> bool:
    """Read the bounce mailbox when it is due. Does nothing when no bounce mailbox is configured."""
    source = source or bounce_source()
    if source is None:
        return False
    return read_mailbox(source, now=now or timezone.now(), force=force)


def escalation_step(*, now: datetime | None = None, limit: int = 200) -> bool:
    """Climb the escalation ladder for every takedown whose next rung may be due."""
    return escalate_due(now=now or timezone.now(), limit=limit)


def inforequest_step(*, now: datetime | None = None, limit: int = 20) -> bool:
    """Reminders, escalation and give-up for due information requests; then send up to ``limit`` messages."""
    now = now or timezone.now()
    found = follow_up_due(now=now)
    return send_due_messages(now=now, limit=limit) or found
