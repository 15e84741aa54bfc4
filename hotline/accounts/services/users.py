"""Account changes (create, role, deactivate, reactivate), each audited.

Roles never grant Django's own admin: `is_staff` and `is_superuser` are set only by `hotline createsuperuser`
(break-glass), and the product's administration pages (`administration.py`) do the daily work.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from hotline.accounts import actions
from hotline.accounts.models import Role, User
from hotline.accounts.services.twofactor import end_sessions
from hotline.audit.services import Actor, record


class AccountError(Exception):
    """An account change that is not allowed; the message starts with the field it concerns (`field: …`) and
    ``code`` names the reason (the pages show a translated sentence for it)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@transaction.atomic
def create_user(username: str, password: str, role: str, *, actor: Actor, email: str = "") -> User:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    # The password policy (AUTH_PASSWORD_VALIDATORS) holds for every way a user is made.
    validate_password(password, User(username=username, email=email))
    user = User.objects.create_user(username=username, password=password, email=email, role=role)
    record(actor, actions.USER_CREATED, user, after={"username": username, "role": role})
    return user


def one_time_password() -> str:
    """A first password for a new account (20 random characters), shown once to the administrator."""
    return secrets.token_urlsafe(15)


@transaction.atomic
def set_role(user: User, role: str, *, actor: Actor) -> None:
    if role not in Role.values and role != "":
        raise ValueError(f"unknown role {role!r}")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.role == Role.ADMIN and role != Role.ADMIN:
        _keep_an_administrator(locked, "role")
    before = {"role": locked.role}
    user.role = locked.role = role
    locked.save(update_fields=["role"])
    record(actor, actions.USER_ROLE_CHANGED, locked, before=before, after={"role": role})


def _keep_an_administrator(user: User, field: str) -> None:
    """Refuse the change that would leave no active administrator to undo it."""
    others = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk)
    if not others.select_for_update().exists():
        raise AccountError(f"{field}: this is the last active administrator", code="last_admin")


@transaction.atomic
def deactivate_user(user: User, *, actor: Actor, now: datetime | None = None) -> int:
    """The user can no longer sign in; their sessions end now. Return the number of sessions ended."""
    now = now or timezone.now()
    locked = User.objects.select_for_update().get(pk=user.pk)
    if actor.user_id == locked.pk:
        raise AccountError("user: you cannot deactivate your own account", code="self")
    if locked.role == Role.ADMIN:
        _keep_an_administrator(locked, "user")
    if not locked.is_active:
        raise AccountError("user: this account is already deactivated", code="inactive")
    User.objects.filter(pk=locked.pk).update(is_active=False)
    user.is_active = False
    ended = end_sessions(locked, now=now)
    record(actor, actions.USER_DEACTIVATED, locked, now=now, before={"is_active": True},
           after={"is_active": False, "sessions_ended": ended})
    return ended


@transaction.atomic
def reactivate_user(user: User, *, actor: Actor, now: datetime | None = None) -> None:
    if not User.objects.filter(pk=user.pk, is_active=False).update(is_active=True):
        raise AccountError("user: this account is active", code="active")
    user.is_active = True
    record(actor, actions.USER_REACTIVATED, user, now=now, before={"is_active": False}, after={"is_active": True})
