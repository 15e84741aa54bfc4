"""Audit of logins, logouts and failed login attempts (the username tried, never the password);
a failed password counts towards the account's lockout."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from hotline.accounts.lockout import register_failure
from hotline.accounts.models import User
from hotline.audit.services import Actor, record
from hotline.lib.ratelimit import client_ip


def _ip(request: Any) -> str:
    return client_ip(request) if request is not None else ""


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        record(Actor.of_user(user), "user.logged_in", user, after={"ip": _ip(request)})


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        with transaction.atomic():
            record(Actor.of_user(user), "user.logged_out", user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    with transaction.atomic():
        record(Actor(label="anonymous"), "user.login_failed", ("accounts.user", username or "?"),
               after={"ip": _ip(request)})
        user = User.objects.filter(username=username).first() if username else None
        if user is not None:
            register_failure(user, factor="password", now=timezone.now(), ip=_ip(request))
