"""API clients (an ingest partner's or a reporting tool's token): issued and revoked with an audit event,
and looked up by token on every API request."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hotline.accounts import actions
from hotline.accounts.models import ApiClient, ClientKind
from hotline.accounts.services.users import AccountError
from hotline.audit.services import Actor, record

# How stale `ApiClient.last_used_at` may get: one UPDATE a minute per client, not one per request.
LAST_USE_GRANULARITY = timedelta(minutes=1)


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
    record(actor, actions.API_CLIENT_CREATED, client, after={"name": name, "kind": kind, "prefix": prefix})
    return client, token


@transaction.atomic
def revoke_api_client(client: ApiClient, *, actor: Actor, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if not ApiClient.objects.filter(pk=client.pk, is_active=True).update(is_active=False, revoked_at=now):
        raise AccountError("client: this client is revoked already", code="revoked")
    client.is_active, client.revoked_at = False, now
    record(actor, actions.API_CLIENT_REVOKED, client, now=now, before={"is_active": True}, after={"is_active": False})


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
