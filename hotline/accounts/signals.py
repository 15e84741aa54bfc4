"""Django's login signals, received: each calls the sign-in audit service (services/logins.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from hotline.accounts.services import logins
from hotline.lib.ratelimit import client_ip


def _ip(request: Any) -> str:
    return client_ip(request) if request is not None else ""


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    logins.record_login(user, ip=_ip(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        logins.record_logout(user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    logins.record_failed_login(str(credentials.get("username", "")), ip=_ip(request))
