"""What a session has proven: the second factor, and when the user last gave password and code.

The password step logs the user in (Django's session); the marker below says the second factor
followed. It names the user, so a session that changes hands never inherits it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils import timezone

_MARK = "hotline_second_factor"
# Web processes on several machines may disagree on the time by this much.
_CLOCK_SKEW_SECONDS = 60


def mark_second_factor_done(session: SessionBase, *, now: datetime | None = None) -> None:
    """Record that the logged-in user of ``session`` gave password and second factor at ``now``.

    Views call it after a verified code; tests call it after ``force_login`` (then ``session.save()``).
    """
    user_id = session.get(SESSION_KEY)
    if not user_id:
        raise ValueError("log the user in before marking the second factor done")
    session[_MARK] = {"user": str(user_id), "at": (now or timezone.now()).timestamp()}


def clear_second_factor(session: SessionBase) -> None:
    session.pop(_MARK, None)


def _mark_of(request: HttpRequest) -> dict[str, object] | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    mark = request.session.get(_MARK)
    if not isinstance(mark, dict) or mark.get("user") != str(user.pk):
        return None
    return mark


def second_factor_done(request: HttpRequest) -> bool:
    return _mark_of(request) is not None


def authenticated_at(request: HttpRequest) -> datetime | None:
    """When this session's user last gave password and second factor (login or re-authentication)."""
    mark = _mark_of(request)
    at = mark.get("at") if mark else None
    if not isinstance(at, int | float):
        return None
    return datetime.fromtimestamp(at, tz=UTC)


def recently_authenticated(request: HttpRequest, *, now: datetime | None = None) -> bool:
    at = authenticated_at(request)
    if at is None:
        return False
    age = ((now or timezone.now()) - at).total_seconds()
    max_age: int = settings.HOTLINE_REAUTH_MAX_AGE_SECONDS
    return -_CLOCK_SKEW_SECONDS <= age <= max_age
