"""The audit of sign-ins: logins, logouts and failed attempts (the username tried, never the password).
A failed password counts towards the account's lockout. Called by the auth signal receivers (signals.py)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from hotline.accounts import actions
from hotline.accounts.models import User
from hotline.accounts.services.lockout import register_failure
from hotline.audit.services import Actor, record


@transaction.atomic
def record_login(user: User, *, ip: str) -> None:
    record(Actor.of_user(user), actions.USER_LOGGED_IN, user, after={"ip": ip})


@transaction.atomic
def record_logout(user: User) -> None:
    record(Actor.of_user(user), actions.USER_LOGGED_OUT, user)


@transaction.atomic
def record_failed_login(username: str, *, ip: str, now: datetime | None = None) -> None:
    """Audit a refused login by the name tried; when an account has that name, count it towards its lockout."""
    username = username[:150]
    record(Actor(label="anonymous"), actions.USER_LOGIN_FAILED, ("accounts.user", username or "?"), after={"ip": ip})
    user = User.objects.filter(username=username).first() if username else None
    if user is not None:
        register_failure(user, factor="password", now=now or timezone.now(), ip=ip)
