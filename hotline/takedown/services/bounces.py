"""Bounces and delivery reports of e-mail notices, recorded: ``receive_bounce`` records what one DSN says
about its notice (parsed by ``hotline.takedown.bounces``), ``poll_bounces`` reads the bounce mailbox
(``HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL``)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from hotline.mailintake.mailboxes import MailSource, source_from_settings
from hotline.mailintake.services import leased_poll
from hotline.takedown.bounces import NotADsn, Outcome, parse_dsn, verdict
from hotline.takedown.channels.email import EmailChannel
from hotline.takedown.models import Notice
from hotline.takedown.services.notices import record_bounce, record_delivery

log = logging.getLogger("hotline.takedown")
LEASE_PREFIX = "bounces:"  # the bounce mailbox's lease row is apart from mail intake's, even for one URL


def receive_bounce(raw: bytes, *, now: datetime) -> str:
    """Record what one DSN says about its notice and return the outcome (an ``Outcome`` value).

    ``bounced`` (record_bounce) and ``delivered`` (record_delivery) write once: the same DSN read again
    changes nothing. ``delayed`` writes nothing: the MTA is still trying and its final report follows.
    ``unknown_message`` (no e-mail notice has that Message-ID) and ``not_a_dsn`` write nothing either.
    """
    parsed = parse_dsn(raw)
    if isinstance(parsed, NotADsn):
        log.info("bounce mailbox: not a DSN (%s)", parsed.reason)
        return Outcome.NOT_A_DSN
    key = parsed.notice_key(settings.HOTLINE_MESSAGE_DOMAIN)
    notice = Notice.objects.filter(key=key, channel=EmailChannel.name).first() if key else None
    if notice is None:
        log.info("bounce mailbox: a DSN for a message that is no notice of ours")
        return Outcome.UNKNOWN_MESSAGE
    outcome, recipients = verdict(parsed, notice.recipient)
    if outcome == Outcome.BOUNCED:
        record_bounce(notice, now=now, reason="; ".join(r.reason for r in recipients),
                      status=recipients[0].status)
    elif outcome == Outcome.DELIVERED:
        record_delivery(notice, now=now)
    return outcome


# ---------------------------------------------------------------- the bounce mailbox


@dataclass
class BouncePoll:
    fetched: int = 0
    failed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def bounce_source() -> MailSource | None:
    """The configured bounce mailbox, or None when there is none. Bad settings raise ``ImproperlyConfigured``."""
    return source_from_settings("HOTLINE_TAKEDOWN_BOUNCE_MAILBOX")


def poll_bounces(source: MailSource, *, limit: int, now: datetime) -> BouncePoll:
    """Read up to ``limit`` mails and remove each once its outcome is committed.

    A crash in between leaves the mail in the mailbox; read again, it changes nothing (``receive_bounce``
    writes once). A mail whose outcome cannot be recorded (the database failed) stays for the next poll.
    """
    result = BouncePoll()
    with source:
        for ref in source.pending(limit):
            fetched = source.fetch(ref)
            result.fetched += 1
            try:
                outcome = receive_bounce(fetched.raw, now=now)
            except Exception:
                log.exception("bounce %s in %s could not be recorded; it stays in the mailbox", ref, source.key)
                result.failed += 1
                continue
            source.done(ref)
            result.outcomes[outcome] += 1
    return result


def read_mailbox(source: MailSource, *, now: datetime, force: bool = False) -> bool:
    """Read the bounce mailbox when it is due (every ``HOTLINE_MAIL_INTAKE_INTERVAL`` seconds,
    ``HOTLINE_MAIL_INTAKE_BATCH`` mails at a time), leased like mail intake's (``leased_poll``)
    (``bounce_step``). Returns whether it recorded any mail."""

    def poll_once(limit: int) -> tuple[int, int]:
        result = poll_bounces(source, limit=limit, now=now)
        if result.fetched:
            log.info("bounce mailbox: %s", ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())))
        return result.fetched, result.failed

    return leased_poll(LEASE_PREFIX + source.key, poll_once, now=now, force=force, what="bounce(s)")
