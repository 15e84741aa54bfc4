"""What a provider or company may do with a signed link: acknowledge a notice, report the removal, answer an
information request. Shared by the public page and the public JSON endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hotline.audit.services import Actor
from hotline.takedown import links
from hotline.takedown.models import InfoRequest, Notice, RequestState
from hotline.takedown.services import (
    RequestInvalid,
    TakedownError,
    acknowledge_notice,
    provider_actor,
    provider_reports_removal,
    record_answer,
)

NOTICE_ACTIONS = ("acknowledge", "removed")
REQUEST_ACTIONS = (RequestState.ANSWERED, RequestState.PARTIAL, RequestState.REFUSED)


class RespondError(Exception):
    """Refused with a reason that may be shown to the provider; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    notice: Notice | None = None
    request: InfoRequest | None = None


def resolve(token: str) -> Target:
    if not token.strip():  # the page opened without its link's token: a malformed request
        raise RespondError("this link is not valid", status=400)
    try:
        target = links.read_token(token)
    except links.BadLink as exc:
        # A forged or damaged token names no link we issued: the same 404 as an unknown one.
        raise RespondError(str(exc), status=410 if exc.expired else 404) from exc
    if target.kind == "notice":
        notice = Notice.objects.select_related("contact").filter(key=target.key).first()
        if notice is None:
            raise RespondError("this link is not valid", status=404)
        return Target(notice=notice)
    request = InfoRequest.objects.filter(key=target.key).first()
    if request is None:
        raise RespondError("this link is not valid", status=404)
    return Target(request=request)


def act(target: Target, action: str, *, note: str, now: datetime) -> str:
    """Carry out ``action``; returns a short code of what happened (for the page and the API)."""
    if target.notice is not None:
        return _notice_action(target.notice, action, now)
    assert target.request is not None
    if action not in REQUEST_ACTIONS:
        raise RespondError(f"action: must be one of {', '.join(REQUEST_ACTIONS)}")
    if target.request.state != RequestState.OPEN:
        raise RespondError("this request was already answered", status=409)
    actor = Actor(label=f"company:{target.request.company_name[:60]}")
    try:
        record_answer(target.request, action, note=note, actor=actor, now=now, via="link")
    except RequestInvalid as exc:
        raise RespondError(str(exc)) from exc
    return "answered"


def _notice_action(notice: Notice, action: str, now: datetime) -> str:
    if action not in NOTICE_ACTIONS:
        raise RespondError(f"action: must be one of {', '.join(NOTICE_ACTIONS)}")
    actor = provider_actor(notice.contact_id)
    try:
        if action == "acknowledge":
            return "acknowledged" if acknowledge_notice(notice, now=now, actor=actor) else "already_acknowledged"
        return "removal_reported" if provider_reports_removal(notice, now=now, actor=actor) else "already_reported"
    except TakedownError as exc:
        raise RespondError(str(exc), status=409) from exc
