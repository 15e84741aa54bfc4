"""The one place that decides who may see or do what: role decorators and object fetchers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from hotline.accounts.models import Role, User
from hotline.accounts.session import recently_authenticated

V = TypeVar("V", bound=Callable[..., HttpResponse])

STAFF_ROLES = tuple(Role.values)
ITEM_READERS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER)


def current_user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def role_required(*roles: str) -> Callable[[V], V]:
    """Require login and one of ``roles``; anyone else gets 403 (anonymous: the login page)."""

    def decorate(view: V) -> V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not current_user(request).has_role(*roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorate


def safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """``candidate`` as a same-site relative path (``/x?y``), or None: never another host."""
    if not candidate or any(ord(ch) < 32 for ch in candidate):
        return None
    parts = urlsplit(candidate)
    if (parts.scheme or parts.netloc) and not url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return None
    path = parts.path
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return f"{path}?{parts.query}" if parts.query else path


def reauth_redirect(request: HttpRequest, back_to: str | None = None) -> HttpResponse:
    """Send the user to confirm password and code, then back to ``back_to`` (or the page they came
    from: a POST cannot be replayed, so a form sends them back to the page that holds it)."""
    if back_to is None:
        back_to = request.get_full_path() if request.method == "GET" else request.headers.get("Referer")
    target = safe_next(request, back_to) or reverse("core:home")
    return HttpResponseRedirect(f"{reverse('accounts:reauth')}?{urlencode({'next': target})}")


def recent_auth_required(view: V) -> V:
    """Require password and second factor within ``HOTLINE_REAUTH_MAX_AGE_SECONDS`` (sensitive actions).

    Put it below ``role_required``, so only people allowed to act are asked to confirm.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not recently_authenticated(request):
            return reauth_redirect(request)
        return view(request, *args, **kwargs)

    return login_required(wrapper)  # type: ignore[return-value]
