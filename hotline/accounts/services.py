"""Account and API-client changes, each audited."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from hotline.accounts.models import ApiClient, Role, User
from hotline.audit.services import Actor, record


@transaction.atomic
def create_user(username: str, password: str, role: str, *, actor: Actor, email: str = "") -> User:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    # The password policy (AUTH_PASSWORD_VALIDATORS) holds for every way a user is made.
    validate_password(password, User(username=username, email=email))
    user = User.objects.create_user(username=username, password=password, email=email, role=role)
    user.is_staff = role == Role.ADMIN
    user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    record(actor, "user.created", user, after={"username": username, "role": role})
    return user


@transaction.atomic
def set_role(user: User, role: str, *, actor: Actor) -> None:
    if role not in Role.values and role != "":
        raise ValueError(f"unknown role {role!r}")
    before = {"role": user.role}
    user.role = role
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["role", "is_staff", "is_superuser"])
    record(actor, "user.role_changed", user, before=before, after={"role": role})


@transaction.atomic
def issue_api_client(name: str, kind: str, *, actor: Actor, country: str = "") -> tuple[ApiClient, str]:
    """Create a client and return it with its token; the token is not stored and not shown again."""
    prefix, token = ApiClient.new_token()
    client = ApiClient.objects.create(
        name=name, kind=kind, country=country.upper()[:2], token_prefix=prefix,
        token_hash=ApiClient.hash_token(token),
    )
    record(actor, "apiclient.created", client, after={"name": name, "kind": kind, "prefix": prefix})
    return client, token


@transaction.atomic
def revoke_api_client(client: ApiClient, *, actor: Actor) -> None:
    client.is_active = False
    client.save(update_fields=["is_active"])
    record(actor, "apiclient.revoked", client, before={"is_active": True}, after={"is_active": False})


def client_for_token(token: str) -> ApiClient | None:
    if not token.startswith("hl_"):
        return None
    return ApiClient.objects.active().filter(token_hash=ApiClient.hash_token(token)).first()
