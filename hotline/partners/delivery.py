"""Delivering outbound messages: the work of the worker step, the HTTP transport, retries with backoff.

A due row is taken by pushing its due time forward by a lease (SKIP LOCKED on PostgreSQL, a
conditional UPDATE on SQLite), then sent outside any transaction. A worker that dies mid-send
leaves the lease to expire: the row is sent again with the same message id (docs/exchange.md §4).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from hotline.lib import claim, prepared, signing
from hotline.lib import http as outbound
from hotline.partners import protocol
from hotline.partners.models import (
    DeliveryState,
    MessageKind,
    OutboundMessage,
    PartnerHotline,
)
from hotline.partners.protocol import ProtocolError
from hotline.partners.services import our_code, our_key, record_delivery, record_failed_attempt

log = logging.getLogger("hotline.partners")
LEASE = timedelta(minutes=5)
MAX_ANSWER_BYTES = 256 * 1024
FINAL_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 410, 413, 422})


class DeliveryError(Exception):
    """A failed attempt; ``retryable`` says whether sending the same message again can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


class Transport(Protocol):
    def post(self, url: str, body: bytes) -> Reply: ...


class HttpTransport:
    """POST through one pooled, pinned outbound client (:class:`hotline.lib.http.OutboundClient`): each
    message resolves the endpoint once, refuses loopback, private or reserved addresses (loopback only
    with ``allow_loopback``: tests and the demo) and goes to exactly the checked address, over a kept-alive
    connection when one to that address is free. Timeouts, no redirects, no environment proxies, a
    capped answer."""

    def __init__(self, *, timeout: float, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        policy = dataclasses.replace(
            outbound.outbound_policy(timeout=timeout, max_body_bytes=MAX_ANSWER_BYTES),
            allow_loopback=allow_loopback, user_agent="HotlineExchange/1")
        self.client = outbound.OutboundClient(policy)

    def close(self) -> None:
        self.client.close()

    def post(self, url: str, body: bytes) -> Reply:
        try:
            response = self.client.request("POST", url, content=body, headers={"Content-Type": "application/json"})
        except outbound.FetchError as exc:
            refused = exc.code in outbound.FINAL_CODES
            raise DeliveryError(f"{'endpoint refused' if refused else exc.code}: {exc.message}",
                                retryable=exc.retryable) from exc
        return Reply(response.status_code, response.body)


def transport_from_settings() -> HttpTransport:
    return HttpTransport(timeout=float(settings.HOTLINE_EXCHANGE_TIMEOUT_SECONDS),
                         allow_loopback=bool(settings.HOTLINE_FETCH_ALLOW_LOOPBACK))


# ------------------------------------------------------------------------------ sending the due messages


def deliver_due(*, now: datetime, limit: int = 50, transport: Transport | None = None,
                concurrency: int | None = None) -> bool:
    """Send the due messages once each, several at a time (the work of ``steps.exchange_step``). ``now``
    drives due times and backoff; every copy is signed with the wall-clock time, which the receiver checks."""
    messages = claim_due(now, limit)
    if not messages:
        return False
    own = transport is None
    sender = transport or transport_from_settings()
    lanes = _lanes(messages)
    workers = min(len(lanes), concurrency or settings.HOTLINE_EXCHANGE_CONCURRENCY)
    try:
        if workers <= 1:
            for lane in lanes:
                _deliver_lane(lane, sender, now)
        else:
            claim.run_in_threads(lambda lane: _deliver_lane(lane, sender, now), lanes, workers=workers,
                                 describe=_describe_lane, logger=log)
    finally:
        if own and isinstance(sender, HttpTransport):
            sender.close()
    return True


def _lanes(messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
    """Messages that must keep their order share a lane: the statuses of one forward. Lanes run in
    parallel; a lane runs in the order the messages were queued."""
    lanes: dict[object, list[OutboundMessage]] = {}
    for message in messages:
        key = ("status", message.partner_id, message.body.get("forward_id")) if message.kind == "status" \
            else message.pk
        lanes.setdefault(key, []).append(message)
    return list(lanes.values())


def _deliver_lane(lane: list[OutboundMessage], transport: Transport, now: datetime) -> None:
    for message in lane:
        if not deliver(message, transport=transport, now=now) and message.kind == MessageKind.STATUS:
            # A later status must not overtake this one: the rest of the lane waits for its retry.
            _defer(lane[lane.index(message) + 1:], after=message, now=now)
            return


def _defer(rest: list[OutboundMessage], *, after: OutboundMessage, now: datetime) -> None:
    """Give back untried messages of a lane, due with (never before) the failed one they follow, and
    without the attempt they were charged."""
    due = OutboundMessage.objects.filter(pk=after.pk).values_list("next_attempt_at", flat=True).first() or now
    for message in rest:
        OutboundMessage.objects.filter(pk=message.pk, state=DeliveryState.PENDING).update(
            next_attempt_at=due, attempts=F("attempts") - 1)


def _describe_lane(lane: list[OutboundMessage]) -> str:
    return f"delivery of exchange messages {[str(m.message_id) for m in lane]}"


def claim_due(now: datetime, limit: int) -> list[OutboundMessage]:
    """Take up to ``limit`` due messages by moving their due time to the end of a lease; nothing taken, and no
    write transaction opened, when a probe compiled once says none is due."""
    if not prepared.any_row("partners.outbound_due", OutboundMessage.objects.due, now=now):
        return []
    rows = OutboundMessage.claim_due(OutboundMessage.objects.due(now), now=now, lease=LEASE, limit=limit, scan=2,
                                     changes={"last_attempt_at": now}, match=("next_attempt_at",),
                                     where={"state": DeliveryState.PENDING})
    for row in rows:
        row.attempts += 1
    return _with_partners(rows)


def _with_partners(rows: list[OutboundMessage]) -> list[OutboundMessage]:
    partners = PartnerHotline.objects.in_bulk({r.partner_id for r in rows})
    for row in rows:
        row.partner = partners[row.partner_id]
    return rows


def deliver(message: OutboundMessage, *, transport: Transport, now: datetime) -> bool:
    """Send one taken message and record the outcome; returns whether it was delivered."""
    try:
        ack = _send(message, transport)
    except DeliveryError as exc:
        record_failed_attempt(message, str(exc), retryable=exc.retryable, now=now)
        return False
    record_delivery(message, ack, now=now)
    return True


def _send(message: OutboundMessage, transport: Transport) -> dict[str, Any]:
    partner = message.partner
    if not partner.active or not partner.endpoint or not partner.public_key:
        raise DeliveryError(f"partner {partner.code} is inactive or has no endpoint or key", retryable=False)
    wire = protocol.seal(protocol.make_message(
        message.kind, sender=our_code(), recipient=partner.code, body=message.body,
        message_id=str(message.message_id), created_at=message.created_at, sent_at=timezone.now()), our_key())
    reply = transport.post(partner.endpoint, protocol.wire_bytes(wire))
    if reply.status != 200:
        raise DeliveryError(outbound.answer_summary(reply.status, reply.body),
                            retryable=reply.status not in FINAL_STATUSES or _outside_window(reply))
    return _verified_ack(message, reply.body)


def _outside_window(reply: Reply) -> bool:
    """The partner refused our ``sent_at`` as outside its clock window: one of the two clocks is off. Each
    attempt signs a fresh ``sent_at``, so retrying (with backoff) succeeds once the clocks agree again,
    while ``last_error`` tells the administrators which field was refused."""
    if reply.status != 409:
        return False
    try:
        answer = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(answer, dict) and answer.get("field") == "message.sent_at"


def _verified_ack(message: OutboundMessage, body: bytes) -> dict[str, Any]:
    """The partner's ack for exactly this message, signed with the key in our directory."""
    partner = message.partner
    try:
        signed = protocol.parse_wire(body, max_bytes=MAX_ANSWER_BYTES)
        key = signing.public_key(partner.public_key)
        if not protocol.is_authentic(signed, key):
            raise protocol.ProtocolError("bad_signature", 0, "signature", "the ack is not signed by the partner")
        envelope = protocol.parse_envelope(signed.message)
        ack = protocol.parse_body("ack", envelope.body)
    except (ProtocolError, ValueError) as exc:
        detail = f"{exc.field}: {exc.detail}" if isinstance(exc, ProtocolError) else str(exc)
        raise DeliveryError(f"unusable answer: {detail}", retryable=True) from exc
    if (envelope.kind, envelope.sender, envelope.recipient, ack.ref) != (
            "ack", partner.code, our_code(), str(message.message_id)):
        raise DeliveryError("the answer is not an ack of this message from this partner", retryable=True)
    return {"message": signed.message, "signature": signed.signature}
