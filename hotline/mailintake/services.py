"""E-mail intake: record every mail (original encrypted as evidence), turn trusted senders' mails into
reports, and manage the allow-list. Nothing here ever sends mail: unknown senders get no answer.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hotline.audit.services import Actor, record
from hotline.evidence.models import Blob
from hotline.evidence.store import get_blob_bytes, put_blob
from hotline.mailintake import actions, trust
from hotline.mailintake.extract import Candidate, Problem, extract, html_text
from hotline.mailintake.mailboxes import MailSource
from hotline.mailintake.message import ParsedMail, parse_headers, parse_mail, redact_tokens
from hotline.mailintake.models import SENDER_SOURCES, AllowedSender, InboundMail, MailboxState, Outcome, TrustMethod
from hotline.reports.services import IncomingReport, ReportResult, receive_reports

log = logging.getLogger("hotline.mailintake")
INTAKE = Actor(label="mail-intake")
LEASE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([a-z0-9_-]{1,63}\.)+[a-z0-9-]{2,63}", re.IGNORECASE)


# ---------------------------------------------------------------- the allow-list


class InvalidSender(ValueError):
    """A sender the allow-list refuses; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _clean_sender(address: str, organisation: str, source: str, trust_method: str) -> tuple[str, str]:
    address, organisation = address.strip().lower(), " ".join(organisation.split())
    if not _ADDRESS.fullmatch(address) or len(address) > 320:
        raise InvalidSender("address", _("This is not an e-mail address."))
    if not organisation:
        raise InvalidSender("organisation", _("Name the organisation."))
    choices = {"source": (source, list(dict(SENDER_SOURCES))), "trust_method": (trust_method, TrustMethod.values)}
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            raise InvalidSender(name, _("%(value)r is not one of %(allowed)s.")
                                % {"value": value, "allowed": ", ".join(allowed)})
    return address, organisation[:200]


def _sender_facts(sender: AllowedSender) -> dict[str, Any]:
    return {"address": sender.address, "organisation": sender.organisation, "source": sender.source,
            "trust_method": sender.trust_method, "active": sender.is_active}


@transaction.atomic
def add_sender(address: str, *, organisation: str, source: str, trust_method: str, actor: Actor,
               now: datetime | None = None) -> tuple[AllowedSender, str | None]:
    """Allow-list ``address``; return it and, when its trust method uses one, its token (shown once)."""
    now = now or timezone.now()
    address, organisation = _clean_sender(address, organisation, source, trust_method)
    if AllowedSender.objects.filter(address=address).exists():
        raise InvalidSender("address", _("This address is already on the allow-list."))
    sender = AllowedSender.objects.create(address=address, organisation=organisation, source=source,
                                          trust_method=trust_method, created_at=now, updated_at=now)
    record(actor, actions.SENDER_ADDED, sender, after=_sender_facts(sender), now=now)
    token = _issue(sender, actor=actor, now=now) if sender.needs_token else None
    return sender, token


@transaction.atomic
def change_sender(sender: AllowedSender, *, organisation: str, source: str, trust_method: str, is_active: bool,
                  actor: Actor, now: datetime | None = None) -> str | None:
    """Change what a sender may do; return a new token when the new method needs one and it has none."""
    now = now or timezone.now()
    _, organisation = _clean_sender(sender.address, organisation, source, trust_method)
    before = _sender_facts(sender)
    sender.organisation, sender.source, sender.trust_method = organisation, source, trust_method
    sender.is_active, sender.updated_at = is_active, now
    sender.save(update_fields=["organisation", "source", "trust_method", "is_active", "updated_at"])
    after = _sender_facts(sender)
    if after != before:
        record(actor, actions.SENDER_CHANGED, sender, before=before, after=after, now=now)
    return _issue(sender, actor=actor, now=now) if sender.needs_token and not sender.token_hash else None


@transaction.atomic
def issue_token(sender: AllowedSender, *, actor: Actor, now: datetime | None = None) -> str:
    """A new token for ``sender`` (the old one stops working at once). Only its hash is kept."""
    return _issue(sender, actor=actor, now=now or timezone.now())


def _issue(sender: AllowedSender, *, actor: Actor, now: datetime) -> str:
    token = AllowedSender.new_token()
    replaced = bool(sender.token_hash)
    sender.token_hash, sender.token_issued_at, sender.updated_at = AllowedSender.hash_token(token), now, now
    sender.save(update_fields=["token_hash", "token_issued_at", "updated_at"])
    record(actor, actions.SENDER_TOKEN_ISSUED, sender, after={"replaced": replaced}, now=now)
    return token


# ---------------------------------------------------------------- one mail


@dataclass
class _Assessment:
    """What reading a mail found, before anything is written."""

    outcome: str
    mail: ParsedMail = field(default_factory=ParsedMail)
    allowed: AllowedSender | None = None
    trusted_by: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)


def _assess(raw: bytes) -> _Assessment:
    limit = int(getattr(settings, "HOTLINE_MAIL_INTAKE_MAX_BYTES", 25 * 1024 * 1024))
    if len(raw) > limit:
        return _Assessment(Outcome.TOO_LARGE, parse_headers(raw),
                           problems=[Problem("mail", "size", f"{len(raw)} bytes is more than the {limit} read")])
    mail = parse_mail(raw)
    structure = [Problem("MIME structure", "*", defect) for defect in dict.fromkeys(mail.defects)]
    if mail.problem is not None:
        return _Assessment(Outcome.MALFORMED, mail, problems=[
            Problem("header", mail.problem.field, mail.problem.message), *structure])
    allowed = AllowedSender.objects.filter(address=mail.sender).first()
    if allowed is None or not allowed.is_active:
        why = "is not on the allow-list" if allowed is None else "is on the allow-list but disabled"
        return _Assessment(Outcome.UNKNOWN_SENDER, mail, problems=[Problem("header", "From", f"{mail.sender} {why}")])
    decision = trust.decide(allowed, mail, authserv_id=str(getattr(settings, "HOTLINE_MAIL_AUTHSERV_ID", "") or ""))
    if not decision.trusted:
        return _Assessment(Outcome.UNAUTHENTICATED, mail, allowed, decision.passed,
                           [Problem("header", "From", decision.reason)])
    found = extract(mail)
    problems = structure + found.problems
    if found.truncated:
        problems.append(Problem("mail", "url", f"more than {len(found.candidates)} URLs: the rest were not read"))
    return _Assessment(Outcome.ACCEPTED, mail, allowed, decision.passed, problems, found.candidates)


def receive_mail(raw: bytes, *, delivered_at: datetime | None = None, mailbox: str = "", mailbox_ref: str = "",
                 now: datetime | None = None) -> tuple[InboundMail, bool]:
    """Record one mail and act on it; ``(row, False)`` when the same bytes were recorded before.

    Order: 1. the original is stored encrypted (outside any transaction: a file write must not hold
    the database lock); 2. in one transaction the report (if any), the ``InboundMail`` row and the audit
    event. A crash after 1 leaves a blob that the next attempt reuses; the unique ``sha256`` makes a
    second worker's attempt roll back whole.
    """
    now = now or timezone.now()
    sha256 = hashlib.sha256(raw).hexdigest()
    existing = InboundMail.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing, False
    blob = put_blob(raw)
    assessment = _assess(raw)
    delivered = delivered_at if delivered_at is not None and delivered_at <= now else now
    try:
        return _record(assessment, blob, len(raw), delivered=delivered, mailbox=mailbox, mailbox_ref=mailbox_ref,
                       now=now), True
    except IntegrityError:
        row = InboundMail.objects.filter(sha256=sha256).first()
        if row is None:
            raise
        return row, False


@transaction.atomic
def _record(assessment: _Assessment, blob: Blob, size: int, *, delivered: datetime, mailbox: str,
            mailbox_ref: str, now: datetime) -> InboundMail:
    mail = assessment.mail
    report: ReportResult | None = None
    if assessment.outcome == Outcome.ACCEPTED:
        assessment.outcome, report = _report(assessment, delivered=delivered, now=now)
    rejected = [u for u in report.urls if u.result == "rejected"] if report else []
    problems = assessment.problems + [
        Problem(assessment.candidates[u.index].where, "url", u.reason or "not a URL", u.url) for u in rejected]
    row = InboundMail.objects.create(
        sha256=blob.sha256, blob=blob, size=size, message_id=mail.message_id[:500], sender=mail.sender[:320],
        subject=redact_tokens(mail.subject)[:500], allowed_sender=assessment.allowed, outcome=assessment.outcome,
        trusted_by=assessment.trusted_by, errors=[p.as_dict() for p in problems[:1000]],
        parts=[p.summary() for p in mail.parts], url_count=len(assessment.candidates) - len(rejected),
        rejected_count=len(rejected), report_id=report.report_id if report else None, mailbox=mailbox[:300],
        mailbox_ref=mailbox_ref[:300], delivered_at=delivered, received_at=now,
    )
    record(INTAKE, actions.MAIL_RECEIVED, row, now=now, after={
        "outcome": row.outcome, "sender": row.sender, "sha256": row.sha256,
        "report": report.reference if report else None, "urls": row.url_count, "rejected": row.rejected_count,
        "errors": len(problems),
    })
    return row


def _report(assessment: _Assessment, *, delivered: datetime, now: datetime) -> tuple[str, ReportResult | None]:
    """Create the report for a trusted mail: ``(outcome, result)``; a duplicate or URL-less mail makes none."""
    mail, allowed = assessment.mail, assessment.allowed
    assert allowed is not None
    if mail.message_id and InboundMail.objects.filter(
            allowed_sender=allowed, message_id=mail.message_id[:500], outcome=Outcome.ACCEPTED).exists():
        assessment.problems.append(Problem("header", "Message-ID", "a mail with this Message-ID from this sender "
                                                                   "was accepted before"))
        assessment.candidates = []
        return Outcome.DUPLICATE, None
    if not assessment.candidates:
        return Outcome.NO_URLS, None
    incoming = IncomingReport(
        source=allowed.source, urls=[c.url for c in assessment.candidates], received_at=delivered,
        text=_report_text(mail), reporter_contact=allowed.address, external_ref=mail.message_id[:200],
    )
    result = receive_reports([incoming], actor=Actor(label=f"mail:{allowed.address}"), now=now)[0]
    return (Outcome.ACCEPTED if result.report_id else Outcome.NO_URLS), result


def _report_text(mail: ParsedMail) -> str:
    plain = mail.bodies("text/plain")
    if plain:
        body = plain[0].text or ""
    else:
        html = mail.bodies("text/html")
        body = html_text(html[0].text or "") if html else ""
    return redact_tokens(f"{mail.subject}\n\n{body}".strip())


@dataclass(frozen=True)
class ShownText:
    where: str
    text: str


MAX_SHOWN_CHARS = 50_000


@transaction.atomic
def read_mail_text(mail: InboundMail, *, actor: Actor, now: datetime | None = None) -> list[ShownText]:
    """The text and HTML bodies of a recorded mail as plain text (never attachments), tokens masked.

    For a reader who asked to see them; audited, since a body may describe what was reported.
    """
    parsed = parse_mail(get_blob_bytes(mail.blob))
    shown = []
    for part in parsed.parts:
        if part.attachment or part.text is None or part.content_type not in ("text/plain", "text/html"):
            continue
        text = html_text(part.text) if part.content_type == "text/html" else part.text
        where = "HTML body (as text)" if part.content_type == "text/html" else "body"
        shown.append(ShownText(where, redact_tokens(text)[:MAX_SHOWN_CHARS]))
    record(actor, actions.MAIL_TEXT_VIEWED, mail, after={"parts": len(shown)}, now=now)
    return shown


# ---------------------------------------------------------------- the mailbox


@dataclass
class PollResult:
    fetched: int = 0
    recorded: int = 0
    seen_before: int = 0  # recorded by an earlier poll that could not remove it from the mailbox
    failed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def poll(source: MailSource, *, limit: int, now: datetime | None = None) -> PollResult:
    """Read up to ``limit`` mails: record each, then remove it from the mailbox.

    A mail is removed only after its record is committed, so a crash in between leaves it in the
    mailbox and the next poll finds it recorded (``seen_before``) and removes it, creating nothing twice.
    A mail that cannot be recorded stays in the mailbox for the next poll; the others go on.
    """
    result = PollResult()
    with source:
        for ref in source.pending(limit):
            fetched = source.fetch(ref)
            result.fetched += 1
            try:
                row, created = receive_mail(fetched.raw, delivered_at=fetched.delivered_at, mailbox=source.key,
                                            mailbox_ref=ref, now=now)
            except Exception:
                log.exception("mail %s in %s could not be recorded; it stays in the mailbox", ref, source.key)
                result.failed += 1
                continue
            source.done(ref)
            result.recorded += created
            result.seen_before += not created
            result.outcomes[row.outcome] = result.outcomes.get(row.outcome, 0) + 1
    return result


def claim_mailbox(key: str, now: datetime, *, force: bool = False) -> MailboxState | None:
    """Lease the mailbox named ``key`` (its state row is made on first use) with a conditional UPDATE
    that must hit one row; None when it is not due yet or another worker holds it. ``force`` ignores
    the due time, never a live lease. Mail intake and the takedown bounce mailbox both use it."""
    state, _ = MailboxState.objects.get_or_create(key=key[:300], defaults={"next_poll_at": now})
    won = MailboxState.objects.claimable(now, force=force).filter(pk=state.pk).update(lease_until=now + LEASE)
    return state if won == 1 else None


def release_mailbox(state: MailboxState, now: datetime, *, interval: timedelta, more: bool = False,
                    problem: str = "", error: BaseException | None = None) -> None:
    """End the lease. After ``error`` the next poll waits ``interval`` doubled per failure in a row (at most
    an hour); otherwise it is due at once when ``more`` mail waits, else after ``interval``. ``problem``
    (or the error) is shown with the mailbox on the mail list."""
    if error is not None:
        failures = state.failures + 1
        MailboxState.objects.filter(pk=state.pk).update(
            lease_until=None, failures=failures, last_error=str(error)[:2000],
            next_poll_at=now + min(interval * 2 ** min(failures, 10), MAX_BACKOFF))
        return
    MailboxState.objects.filter(pk=state.pk).update(
        lease_until=None, failures=0, last_error=problem[:2000], last_polled_at=now,
        next_poll_at=now if more else now + interval)


def leased_poll(key: str, poll_once: Callable[[int], tuple[int, int]], *, now: datetime, force: bool = False,
                what: str = "mail(s)") -> bool:
    """Poll one mailbox under its lease: ``poll_once(limit)`` reads up to ``limit`` mails and returns
    (fetched, failed). Mail intake and the takedown bounce mailbox both run through this.

    The mailbox is leased with a conditional UPDATE, so two workers never read it at once; a failed
    poll pushes the next one back (doubling, at most an hour) before the error is re-raised.
    """
    state = claim_mailbox(key, now, force=force)
    if state is None:
        return False
    limit = int(getattr(settings, "HOTLINE_MAIL_INTAKE_BATCH", 50))
    interval = timedelta(seconds=int(getattr(settings, "HOTLINE_MAIL_INTAKE_INTERVAL", 60)))
    try:
        fetched, failed = poll_once(limit)
    except Exception as exc:
        release_mailbox(state, now, interval=interval, error=exc)
        raise
    problem = f"{failed} {what} could not be recorded and stay in the mailbox (see the log)"
    release_mailbox(state, now, interval=interval, more=fetched >= limit and failed < fetched,
                    problem=problem if failed else "")
    return fetched > failed  # mails that keep failing are not progress: let the worker sleep


def poll_due(source: MailSource, *, now: datetime, force: bool = False) -> bool:
    """Poll ``source`` when it is due, under its lease (``leased_poll``; the work of ``steps.mail_step``)."""

    def poll_once(limit: int) -> tuple[int, int]:
        result = poll(source, limit=limit, now=now)
        return result.fetched, result.failed

    return leased_poll(source.key, poll_once, now=now, force=force)
