"""JSON API of the partners domain: the exchange endpoint (authenticated by Ed25519 signatures, not by
bearer tokens; docs/exchange.md) and our public identity for partners setting us up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Router, Schema

from hotline.lib.ratelimit import allow, client_ip
from hotline.partners import receive
from hotline.partners.protocol import CODE_PATTERN, UUID_PATTERN, VERSION
from hotline.partners.services import ExchangeError, our_code, our_public_key

router = Router(tags=["exchange"])

# The request body as documented (the view reads the raw bytes itself, so that every refusal is
# logged with its outcome instead of being answered by the framework).
_REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["message", "signature"], "additionalProperties": False,
        "properties": {
            # The envelope as protocol.Envelope checks it, so that a message that fits this schema is
            # refused for who sent it or how it is signed (401, 403), never for its shape (400).
            "message": {"type": "object", "description": "the message (docs/exchange.md §2)",
                        "required": ["v", "id", "kind", "sender", "recipient", "created_at", "sent_at", "body"],
                        "additionalProperties": False,
                        "properties": {
                            "v": {"type": "integer", "enum": [VERSION]},
                            "id": {"type": "string", "pattern": UUID_PATTERN},
                            "kind": {"type": "string", "enum": ["forward", "status"]},
                            "sender": {"type": "string", "pattern": CODE_PATTERN},
                            "recipient": {"type": "string", "pattern": CODE_PATTERN},
                            "created_at": {"type": "string", "format": "date-time", "maxLength": 40},
                            "sent_at": {"type": "string", "format": "date-time", "maxLength": 40},
                            "body": {"type": "object", "description": "by kind: docs/exchange.md §3"},
                        }},
            "signature": {"type": "string", "description": "base64 Ed25519 signature of the canonical message"},
        },
    }}},
}


class SignedOut(Schema):
    message: dict[str, Any]
    signature: str


class RefusalOut(Schema):
    outcome: str
    field: str | None = None
    detail: str


class IdentityOut(Schema):
    code: str
    public_key: str
    protocol: int


def _json(status: int, body: dict[str, Any]) -> JsonResponse:
    return JsonResponse(body, status=status)


@router.post("/exchange/messages", auth=None, openapi_extra={"requestBody": _REQUEST_BODY},
             response={200: SignedOut, 400: RefusalOut, 401: RefusalOut, 403: RefusalOut, 409: RefusalOut,
                       413: RefusalOut, 429: RefusalOut, 503: RefusalOut},
             summary="Receive a signed message from a partner hotline")
def exchange_receive(request: HttpRequest) -> HttpResponse:
    """Answers a signed `ack` (200), or a refusal naming the outcome and the field."""
    if not allow("exchange", client_ip(request), settings.HOTLINE_EXCHANGE_RATE):
        return _json(429, {"outcome": "rate_limited", "field": None, "detail": "too many requests; retry later"})
    try:
        our_public_key()
    except ExchangeError as exc:
        return _json(503, {"outcome": "not_configured", "field": None, "detail": str(exc)})
    # Read one byte past the cap, never the whole of an oversized body.
    raw = request.read(settings.HOTLINE_EXCHANGE_MAX_BYTES + 1)
    answer = receive.handle(raw, remote_addr=client_ip(request), now=timezone.now())
    return HttpResponse(answer.content, status=answer.status, content_type="application/json")


@router.get("/exchange/identity", auth=None, response={200: IdentityOut, 503: RefusalOut},
            summary="Our exchange code and public key")
def exchange_identity(request: HttpRequest) -> JsonResponse:
    try:
        key = our_public_key()
    except ExchangeError as exc:
        return _json(503, {"outcome": "not_configured", "field": None, "detail": str(exc)})
    return _json(200, {"code": our_code(), "public_key": key, "protocol": 1})
