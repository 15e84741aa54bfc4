"""The receiving side of the exchange endpoint: verify, deduplicate, process, answer, and log every
request with its outcome (docs/exchange.md §2.2 and §5)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from hotline.audit.services import Actor
from hotline.lib import signing
from hotline.partners import protocol
from hotline.partners.models import Forward, InboundMessage, InboundOutcome, PartnerHotline
from hotline.partners.protocol import Envelope, ForwardBody, ProtocolError, Signed, StatusBody, bad_schema
from hotline.partners.services import apply_status, our_code, our_key, receive_forward

log = logging.getLogger("hotline.partners")


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes  # JSON

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass
class _Context:
    raw: bytes
    remote_addr: str
    now: datetime
    sender_code: str = ""
    partner: PartnerHotline | None = None
    envelope: Envelope | None = None
    digest: str = ""


def handle(raw: bytes, *, remote_addr: str, now: datetime) -> Answer:
    """Answer one POST to the exchange endpoint; every outcome leaves a row in the inbound log."""
    ctx = _Context(raw=raw, remote_addr=remote_addr[:45], now=now)
    try:
        return _accept(ctx)
    except ProtocolError as exc:
        _log(ctx, exc.outcome, exc.status, field=exc.field, detail=exc.detail)
        refusal = {"outcome": exc.outcome, "field": exc.field, "detail": exc.detail}
        return Answer(exc.status, json.dumps(refusal).encode())


def _accept(ctx: _Context) -> Answer:
    # 1. Size and JSON; 2. the sender in our directory; 3. the signature over the canonical form.
    signed = protocol.read_wire(ctx.raw, max_bytes=settings.HOTLINE_EXCHANGE_MAX_BYTES)
    ctx.partner = _sender(signed, ctx)
    protocol.check_wire(signed)
    if signed.signature is None:
        raise ProtocolError("bad_signature", 401, "signature", "missing: messages must be signed")
    if not protocol.is_authentic(signed, signing.public_key(ctx.partner.public_key)):
        raise ProtocolError("bad_signature", 401, "signature", f"not valid for the key of {ctx.partner.code}")
    # 4. Envelope, recipient and time window; 5. seen before?; 6. the body, then the work.
    ctx.envelope = envelope = protocol.parse_envelope(signed.message)
    ctx.digest = protocol.content_digest(signed.message)
    if envelope.recipient != our_code():
        raise bad_schema("message.recipient", f"this endpoint is {our_code()}, not {envelope.recipient}")
    check_window(envelope, ctx.now)
    earlier = _earlier(ctx)
    if earlier is not None:
        return earlier
    if envelope.kind == "ack":
        raise bad_schema("message.kind", "acks travel only as answers, never as requests")
    body = protocol.parse_body(envelope.kind, envelope.body)
    return _process(ctx, signed, body)


def _sender(signed: Signed, ctx: _Context) -> PartnerHotline:
    code = signed.sender
    if not isinstance(code, str) or not code:
        raise bad_schema("message.sender", "missing: messages must name their sender")
    if not re.fullmatch(protocol.CODE_PATTERN, code):  # checked before it reaches the database
        raise bad_schema("message.sender", f"must match {protocol.CODE_PATTERN}")
    ctx.sender_code = code.encode("ascii", "replace").decode("ascii")[:100]
    partner = PartnerHotline.objects.filter(code=code, active=True).exclude(public_key="").first()
    if partner is None:
        raise ProtocolError("unknown_sender", 403, "message.sender",
                            f"{ctx.sender_code!r} is not an active partner with a key in our directory")
    try:
        signing.public_key(partner.public_key)
    except ValueError:
        log.error("partner %s has an unusable public key in the directory", partner.code)
        raise ProtocolError("unknown_sender", 403, "message.sender", "no usable key for this sender") from None
    return partner


def check_window(envelope: Envelope, now: datetime) -> None:
    """Refuse a ``sent_at`` outside ±HOTLINE_EXCHANGE_CLOCK_SKEW_SECONDS of our clock (field ``message.sent_at``:
    the sender retries with a fresh one)."""
    skew = timedelta(seconds=settings.HOTLINE_EXCHANGE_CLOCK_SKEW_SECONDS)
    sent = protocol.parse_time(envelope.sent_at)
    if not now - skew <= sent <= now + skew:
        raise ProtocolError("replay", 409, "message.sent_at",
                            f"outside the accepted window of ±{skew.seconds} s around {protocol.iso(now)}")


def _earlier(ctx: _Context) -> Answer | None:
    """The stored answer for a resend of an accepted id; a replay error for other content under it."""
    assert ctx.envelope is not None
    accepted = InboundMessage.objects.filter(partner=ctx.partner, message_id=ctx.envelope.id,
                                             outcome=InboundOutcome.ACCEPTED).first()
    if accepted is None:
        return None
    if accepted.content_sha256 != ctx.digest:
        raise ProtocolError("replay", 409, "message.id", "this id was already used for a different message")
    _log(ctx, InboundOutcome.DUPLICATE, 200, detail=f"answered as on {protocol.iso(accepted.received_at)}")
    return Answer(200, accepted.answer.encode())


def _process(ctx: _Context, signed: Signed, body: Any) -> Answer:
    try:
        with transaction.atomic():
            # The log row first: a concurrent copy of the same id fails on its unique constraint here.
            row = _log(ctx, InboundOutcome.ACCEPTED, 200, message=signed.message)
            reference = _forward(ctx, body, row) if isinstance(body, ForwardBody) else _status(ctx, body)
            answer = protocol.wire_bytes(_ack(ctx, reference))
            InboundMessage.objects.filter(pk=row.pk).update(answer=answer.decode("ascii"))
            return Answer(200, answer)
    except IntegrityError:
        earlier = _earlier(ctx)
        if earlier is None:
            raise
        return earlier


def _forward(ctx: _Context, body: ForwardBody, row: InboundMessage) -> str:
    assert ctx.partner is not None and ctx.envelope is not None
    return receive_forward(ctx.partner, body, message_id=ctx.envelope.id, inbound_message=row.pk, now=ctx.now)


def _status(ctx: _Context, body: StatusBody) -> str:
    assert ctx.partner is not None and ctx.envelope is not None
    forward = Forward.objects.filter(partner=ctx.partner, message__key=body.forward_id).first()
    if forward is None:
        raise bad_schema("body.forward_id", "we sent you no forward with this id")
    apply_status(forward, body.status, at=protocol.parse_time(body.at), note=body.note,
                 message_id=ctx.envelope.id, actor=Actor(label=f"partner:{ctx.partner.code}"), now=ctx.now)
    return ""


def _ack(ctx: _Context, reference: str) -> dict[str, Any]:
    assert ctx.partner is not None and ctx.envelope is not None
    message = protocol.make_message(
        "ack", sender=our_code(), recipient=ctx.partner.code, created_at=ctx.now, sent_at=ctx.now,
        body={"ref": ctx.envelope.id, "outcome": "accepted", "reference": reference})
    return protocol.seal(message, our_key())


def _log(ctx: _Context, outcome: str, status: int, *, field: str = "", detail: str = "",
         message: dict[str, Any] | None = None) -> InboundMessage:
    envelope = ctx.envelope
    return InboundMessage.objects.create(
        received_at=ctx.now, remote_addr=ctx.remote_addr, sender_code=ctx.sender_code, partner=ctx.partner,
        message_id=envelope.id if envelope else None, kind=envelope.kind if envelope else "",
        outcome=outcome, http_status=status, field=_printable(field, 200), detail=_printable(detail, 1000),
        content_sha256=ctx.digest or hashlib.sha256(ctx.raw).hexdigest(), message=message)


def _printable(text: str, limit: int) -> str:
    """Details may quote hostile input: keep them to text every database can store."""
    return "".join(c for c in text if c != "\x00" and not "\ud800" <= c <= "\udfff")[:limit]
