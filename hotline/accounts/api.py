"""Bearer-token authentication for API clients, with a per-client rate limit."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer

from hotline.accounts.models import ApiClient
from hotline.accounts.services import client_for_token, note_client_use
from hotline.lib.ratelimit import allow


class ClientToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = client_for_token(token)
        if client is None:
            return None
        if not allow("api", f"client:{client.pk}", settings.HOTLINE_API_RATE):
            raise HttpError(429, "rate limit reached; slow down and retry later")
        note_client_use(client)
        return client


def request_client(request: HttpRequest) -> ApiClient:
    client = getattr(request, "auth", None)
    if not isinstance(client, ApiClient):
        raise HttpError(401, "not authenticated")
    return client
