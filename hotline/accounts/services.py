"""Account and API-client changes, each audited.

Roles never grant Django's own admin: `is_staff` and `is_superuser` are set only by `hotline createsuperuser`
(break-glass), and the product's administration pages (`administration.py`) do the daily work.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hotline.accounts.models import ApiClient, ClientKind, Role, User
from hotline.audit.services import Actor, record

# How stale `ApiClient.last_used_at` may get: one UPDATE a minute per client, not one per request.
LAST_USE_GRANULARITY = timedelta(minutes=1)


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
    record(actor, "user.created", user, after={"username": username, "role": role})
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
    record(actor, "user.role_changed", locked, before=before, after={"role": role})


def _keep_an_administrator(user: User, field: str) -> None:
    """Refuse the change that would leave no active administrator to undo it."""
    others = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk)
    if not others.select_for_update().exists():
        raise AccountError(f"{field}: this is the last active administrator", code="last_admin")


@transaction.atomic
def deactivate_user(user: User, *, actor: Actor, now: datetime | None = None) -> int:
    """The user can no longer sign in; their sessions end now. Return the number of sessions ended."""
    from hotline.accounts.twofactor import end_sessions

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
    record(actor, "user.deactivated", locked, now=now, before={"is_active": True},
           after={"is_active": False, "sessions_ended": ended})
    return ended


@transaction.atomic
def reactivate_user(user: User, *, actor: Actor, now: datetime | None = None) -> None:
    if not User.objects.filter(pk=user.pk, is_active=False).update(is_active=True):
        raise AccountError("user: this account is active", code="active")
    user.is_active = True
    record(actor, "user.reactivated", user, now=now, before={"is_active": False}, after={"is_active": True})


@transaction.atomic
def issue_api_client(name: str, kind: str, *, actor: Actor, country: str = "") -> tuple[ApiClient, str]:
    """Create a client and return it with its token; the token is not stored and not shown again."""
    if kind not in ClientKind.values:
        raise AccountError(f"kind: unknown kind {kind!r}", code="kind")
    if ApiClient.objects.filter(name=name).exists():
        raise AccountError("name: a client with this name exists", code="name_taken")
    prefix, token = ApiClient.new_token()
    client = ApiClient.objects.create(
        name=name, kind=kind, country=country.upper()[:2], token_prefix=prefix,
        token_hash=ApiClient.hash_token(token),
    )
    record(actor, "apiclient.created", client, after={"name": name, "kind": kind, "prefix": prefix})
    return client, token


@transaction.atomic
def revoke_api_client(client: ApiClient, *, actor: Actor, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if not ApiClient.objects.filter(pk=client.pk, is_active=True).update(is_active=False, revoked_at=now):
        raise AccountError("client: this client is revoked already", code="revoked")
    client.is_active, client.revoked_at = False, now
    record(actor, "apiclient.revoked", client, now=now, before={"is_active": True}, after={"is_active": False})


def client_for_token(token: str) -> ApiClient | None:
    if not token.startswith("hl_"):
        return None
    return ApiClient.objects.active().filter(token_hash=ApiClient.hash_token(token)).first()


def note_client_use(client: ApiClient, *, now: datetime | None = None) -> None:
    """Remember when the client last authenticated; one conditional UPDATE a minute at most (not audited:
    each submission is audited itself)."""
    now = now or timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USE_GRANULARITY)
    ApiClient.objects.filter(stale, pk=client.pk).update(last_used_at=now)
