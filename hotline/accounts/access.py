"""The one place that decides who may see or do what: role decorators and object fetchers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from hotline.accounts.models import Role, User

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
