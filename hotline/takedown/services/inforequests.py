"""Information requests to companies: preservation or disclosure of data about an account or URL, on behalf
of the police or the hotline, with a legal basis and a deadline; reminders, escalation to the managers, and
the answer recorded (answered / partially / refused / no answer). Every message is a row before it is sent,
claimed with a lease like a notice, so a crash never loses it or sends it under another id."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import select_template
from django.utils import translation

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM, Actor, record
from hotline.reports.models import Item
from hotline.takedown import actions, conf, links
from hotline.takedown.channels import ChannelError, OutboundMessage, channel_for
from hotline.takedown.models import (
    ANSWER_STATES,
    InfoRequest,
    NoticeState,
    OnBehalfOf,
    RequestKind,
    RequestMessage,
    RequestMessageKind,
    RequestState,
    SubjectType,
    move_info_request,
    move_request_message,
)
from hotline.takedown.render import language_of
from hotline.tracing.models import Provider

log = logging.getLogger("hotline.takedown")


class RequestInvalid(Exception):
    """The request cannot be made or answered as asked; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class NewRequest:
    kind: str
    on_behalf_of: str
    company_name: str
    email: str
    subject_type: str
    subject: str
    legal_basis: str
    company: Provider | None = None
    language: str = "en"
    deadline_at: datetime | None = None
    reminder_hours: int | None = None
    item: Item | None = None
    police_reference: str = ""


def _validate(data: NewRequest, now: datetime) -> None:
    choices = {"kind": (data.kind, RequestKind.values), "on_behalf_of": (data.on_behalf_of, OnBehalfOf.values),
               "subject_type": (data.subject_type, SubjectType.values)}
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            raise RequestInvalid(name, f"{value!r} is not one of {', '.join(allowed)}")
    for name in ("company_name", "subject", "legal_basis"):
        if not str(getattr(data, name)).strip():
            raise RequestInvalid(name, "is required")
    if "@" not in data.email or data.email.strip() != data.email:
        raise RequestInvalid("email", f"{data.email!r} is not an e-mail address")
    if data.deadline_at is not None and data.deadline_at <= now:
        raise RequestInvalid("deadline_at", "must lie in the future")
    if data.on_behalf_of == OnBehalfOf.POLICE and not data.police_reference.strip():
        raise RequestInvalid("police_reference", "a request on behalf of the police names the police reference")


@transaction.atomic
def create_info_request(data: NewRequest, *, actor: Actor, now: datetime, user: User | None = None) -> InfoRequest:
    """Record a request and queue its first message (sent by ``inforequest_step``)."""
    _validate(data, now)
    deadline = data.deadline_at or now + timedelta(days=settings.HOTLINE_INFOREQUEST_DEADLINE_DAYS)
    reminder = data.reminder_hours or settings.HOTLINE_INFOREQUEST_REMINDER_HOURS
    request = InfoRequest.objects.create(
        kind=data.kind, on_behalf_of=data.on_behalf_of, company=data.company, company_name=data.company_name.strip(),
        email=data.email, language=language_of(data.language), subject_type=data.subject_type,
        subject=data.subject.strip(), item=data.item, legal_basis=data.legal_basis.strip(),
        police_reference=data.police_reference.strip(), created_at=now, created_by=user, deadline_at=deadline,
        reminder_hours=reminder, next_follow_up_at=min(now + timedelta(hours=reminder), deadline))
    RequestMessage.objects.create(request=request, kind=RequestMessageKind.REQUEST, number=0, created_at=now,
                                  next_attempt_at=now)
    record(actor, actions.INFOREQUEST_CREATED, request, now=now, after={
        "reference": request.reference, "kind": request.kind, "on_behalf_of": request.on_behalf_of,
        "company": request.company_name, "deadline": deadline.isoformat(), "item": data.item.pk if data.item else None})
    return request


@transaction.atomic
def record_answer(request: InfoRequest, outcome: str, *, note: str, actor: Actor, now: datetime,
                  via: str = "form") -> InfoRequest:
    """Record the company's answer. An answer can be corrected (the audit keeps both)."""
    if outcome not in ANSWER_STATES:
        raise RequestInvalid("outcome", f"{outcome!r} is not one of {', '.join(ANSWER_STATES)}")
    locked = InfoRequest.objects.select_for_update().get(pk=request.pk)
    before = {"state": locked.state, "note": locked.answer_note}
    move_info_request(InfoRequest.objects.filter(pk=locked.pk), outcome, now=now, answer_note=note.strip()[:5000],
                      answered_via=via[:10], answered_at=locked.answered_at or now, next_follow_up_at=None)
    locked.refresh_from_db()
    move_request_message(RequestMessage.objects.filter(request=locked, kind=RequestMessageKind.REMINDER),
                         NoticeState.CANCELLED, now=now, strict=False, next_attempt_at=None)
    record(actor, actions.INFOREQUEST_ANSWERED, locked, now=now, before=before,
           after={"state": outcome, "note": locked.answer_note[:500], "via": via})
    return locked


# ------------------------------------------------------------------ what is due (inforequest_step)


def follow_up_due(*, now: datetime, limit: int = 200) -> bool:
    """Reminders, escalation and give-up for up to ``limit`` due requests, each claimed by clearing its
    ``next_follow_up_at`` (a conditional UPDATE that must hit one row). Returns whether any was due."""
    found = False
    for pk, at in list(InfoRequest.objects.follow_up_due(now).values_list("pk", "next_follow_up_at")[:limit]):
        if InfoRequest.objects.filter(pk=pk, next_follow_up_at=at).update(next_follow_up_at=None) == 1:
            follow_up(pk, now=now)
            found = True
    return found


def send_due_messages(*, now: datetime, limit: int = 20) -> bool:
    """Claim and send up to ``limit`` due request messages, one at a time. Returns whether any."""
    found = False
    for _ in range(limit):
        message = _claim(now)
        if message is None:
            break
        found = True
        _send(message, now=now)
    return found


@transaction.atomic
def follow_up(request_id: int, *, now: datetime) -> str:
    """One follow-up of an open request: give up, escalate or remind, whichever is due. Returns which."""
    request = InfoRequest.objects.select_for_update().get(pk=request_id)
    if request.state != RequestState.OPEN:
        return "closed"
    give_up = request.deadline_at + timedelta(days=settings.HOTLINE_INFOREQUEST_GIVE_UP_DAYS)
    escalate = request.deadline_at + timedelta(days=settings.HOTLINE_INFOREQUEST_ESCALATE_DAYS)
    if now >= give_up:
        record_answer(request, RequestState.NO_ANSWER, note="no answer by the end of the follow-up period",
                      actor=SYSTEM, now=now, via="system")
        return "no_answer"
    action = "reminder"
    if now >= escalate and request.escalated_at is None:
        request.escalated_at, action = now, "escalated"
        record(SYSTEM, actions.INFOREQUEST_ESCALATED, request, now=now,
               after={"deadline": request.deadline_at.isoformat()})
    request.reminders_sent += 1
    RequestMessage.objects.create(request=request, kind=RequestMessageKind.REMINDER, number=request.reminders_sent,
                                  created_at=now, next_attempt_at=now)
    upcoming = [now + timedelta(hours=request.reminder_hours), give_up]
    upcoming += [request.deadline_at] if now < request.deadline_at else []
    upcoming += [escalate] if request.escalated_at is None and now < escalate else []
    request.next_follow_up_at = min(upcoming)
    request.save(update_fields=["escalated_at", "reminders_sent", "next_follow_up_at"])
    return action


def _claim(now: datetime) -> RequestMessage | None:
    due = RequestMessage.objects.due(now).order_by("next_attempt_at", "pk")
    claimed = RequestMessage.claim_due(due, now=now, lease=conf.send_lease(), limit=1, scan=1,
                                       match=("state", "attempts"))
    if not claimed:
        return None
    message = claimed[0]
    message.refresh_from_db()
    return message


def _send(message: RequestMessage, *, now: datetime) -> None:
    request = message.request
    try:
        if request.state != RequestState.OPEN and message.kind == RequestMessageKind.REMINDER:
            raise ChannelError("the request was answered meanwhile", retry=False)
        channel_for("email").send(render_request(message))
    except ChannelError as exc:
        with transaction.atomic():
            give_up = message.retry_or_fail(str(exc), retry=exc.retry,
                                            max_attempts=settings.HOTLINE_TAKEDOWN_SEND_ATTEMPTS, now=now)
            action = actions.INFOREQUEST_MESSAGE_FAILED if give_up else actions.INFOREQUEST_MESSAGE_RETRY
            record(SYSTEM, action, request, now=now,
                   after={"message": message.kind, "number": message.number, "error": str(exc)[:500]})
        return
    with transaction.atomic():
        message.move(NoticeState.SENT, now=now, next_attempt_at=None)
        if message.kind == RequestMessageKind.REQUEST:
            InfoRequest.objects.filter(pk=request.pk, sent_at__isnull=True).update(sent_at=now)
        record(SYSTEM, actions.INFOREQUEST_MESSAGE_SENT, request, now=now,
               after={"message": message.kind, "number": message.number, "attempt": message.attempts})


def render_request(message: RequestMessage) -> OutboundMessage:
    request = message.request
    language = language_of(request.language)
    with translation.override(language if language in ("nl", "fr") else "en"):
        url = links.respond_url("request", str(request.key), request.created_at)
    context = {"org": settings.HOTLINE_ORGANISATION, "from_email": settings.DEFAULT_FROM_EMAIL, "r": request,
               "ref": request.reference, "reminder": message.number, "respond_url": url,
               "deadline": f"{request.deadline_at:%Y-%m-%d}",
               "link_expires": f"{links.expires_at(request.created_at):%Y-%m-%d}"}
    folders = [language, "en"]
    subject = select_template([f"takedown/requests/{f}/subject.txt" for f in folders]).render(context)
    body = select_template([f"takedown/requests/{f}/body.txt" for f in folders]).render(context)
    return OutboundMessage(
        key=message.key, message_id=f"<request-{message.key}@{settings.HOTLINE_MESSAGE_DOMAIN}>",
        reference=f"{request.reference}-{message.number}", recipient=request.email, subject=" ".join(subject.split()),
        body=body.strip() + "\n", language=language, respond_url=url)
