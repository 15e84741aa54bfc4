"""Partner services: forward an item to a partner, tell partners what became of their items, apply what
partners tell us (their forwards, acks and statuses), record each delivery attempt's outcome, and keep
the directory of hotlines and police contacts. Every change is one transaction with its audit event;
messages are rows (``OutboundMessage``) that ``steps.exchange_step`` sends after commit (``delivery``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model

from hotline.assessment.annotations import item_annotations
from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.audit.services import SYSTEM, Actor, record
from hotline.evidence.models import Media
from hotline.lib import signing
from hotline.partners import actions
from hotline.partners.models import (
    DeliveryState,
    ExchangeStatus,
    Forward,
    ForwardEvent,
    InboundForward,
    InvalidTransition,
    MessageKind,
    OutboundMessage,
    PartnerHotline,
    PoliceContact,
    move_outbound,
)
from hotline.partners.protocol import MAX_MEDIA, ForwardBody, bad_schema, iso
from hotline.reports.models import Item, Source
from hotline.reports.services import IncomingReport, receive_reports
from hotline.tracing.models import Trace

ASSESSMENT_CODES = ("verdict", "legal_limb", "content_type", "age_group", "gender", "site_type", "commerciality",
                    "reason", "other_harm")
ASSESSMENT_FLAGS = ("is_virtual", "is_manipulated", "is_self_generated", "is_child_modelling")
CODE_SCHEME = "hotline/1"
log = logging.getLogger("hotline.partners")
M = TypeVar("M", bound=Model)


class ExchangeError(Exception):
    """An exchange action that cannot be done (partner unusable, exchange not configured)."""


# ------------------------------------------------------------------------------ our identity


def our_code() -> str:
    return str(settings.HOTLINE_EXCHANGE_CODE)


def our_key() -> Ed25519PrivateKey:
    value = str(getattr(settings, "HOTLINE_EXCHANGE_SIGNING_KEY", "") or "")
    if not value:
        raise ExchangeError("HOTLINE_EXCHANGE_SIGNING_KEY is not set: this installation cannot sign messages")
    return signing.private_key(value)


def our_public_key() -> str:
    return signing.public_b64(our_key())


# ------------------------------------------------------------------------------ forwarding


def trace_snapshot(trace: Trace | None) -> dict[str, Any] | None:
    """Where the item was hosted, as the partner needs it (no internal ids)."""
    if trace is None:
        return None
    return {
        "host": trace.host, "country": trace.country, "traced_at": iso(trace.traced_at),
        "addresses": [_address(a) for a in trace.addresses if isinstance(a, dict)][:50],
        "provider": trace.provider.name if trace.provider else None,
        "cdn": trace.cdn.name if trace.cdn else None,
        "origin_address": trace.origin_address,
    }


def _address(entry: dict[str, Any]) -> dict[str, Any]:
    kept = {k: entry.get(k) for k in ("ip", "asn", "as_name", "country_signals", "provider") if k in entry}
    return {k: v for k, v in kept.items() if not isinstance(v, float)}


def assessment_codes(item: Item) -> dict[str, Any] | None:
    """The codes of the item's final assessment (never its free-text notes)."""
    final = Assessment.objects.final().filter(item=item).first()
    if final is None:
        return None
    codes: dict[str, Any] = {"scheme": CODE_SCHEME}
    codes |= {name: getattr(final, name) for name in ASSESSMENT_CODES if getattr(final, name)}
    codes |= {name: bool(getattr(final, name)) for name in ASSESSMENT_FLAGS}
    return codes


def media_hashes(item: Item) -> list[dict[str, str]]:
    """Hashes of the item's good media files, one entry per distinct SHA-256. Never bytes.

    Files the final assessment classified not illegal are left out: a partner must never learn a legal
    file (a banner beside the illegal image) as known content."""
    seen: dict[str, dict[str, str]] = {}
    legal = MediaAssessment.objects.final().filter(media__item=item).exclude(
        verdict__in=ILLEGAL_VERDICTS).values("media_id")
    rows = Media.objects.filter(item=item, is_bad=False).exclude(sha256="").exclude(pk__in=legal).order_by("pk")
    for sha256, md5, pdq in rows.values_list("sha256", "md5", "pdq"):
        entry = seen.setdefault(sha256, {"sha256": sha256})
        entry |= {k: v for k, v in (("md5", md5), ("pdq", pdq)) if v and k not in entry}
        if len(seen) >= MAX_MEDIA:
            break
    return list(seen.values())


def forward_body(item: Item, *, trace: Trace | None, reference: str) -> dict[str, Any]:
    """The forward's body. CyberTipline annotations (``annotations`` on the body and on a media entry)
    are optional and sent only when set, so a partner that predates them still accepts every other forward."""
    media = media_hashes(item)
    annotations = item_annotations(item)
    per_file = {entry["sha256"]: entry["annotations"] for entry in annotations["files"]}
    for entry in media:
        if codes := per_file.get(entry["sha256"]):
            entry["annotations"] = codes
    body = {"url": item.canonical_url, "reference": reference, "trace": trace_snapshot(trace),
            "assessment": assessment_codes(item), "media": media}
    if codes := [*annotations["report"], *annotations["file"]]:
        body["annotations"] = codes
    return body


def _usable(partner: PartnerHotline) -> None:
    if not partner.active:
        raise ExchangeError(f"partner {partner.code} is not active")
    if not partner.endpoint or not partner.public_key:
        raise ExchangeError(f"partner {partner.code} has no exchange endpoint or public key")
    our_key()


def _queue(partner: PartnerHotline, kind: str, body: dict[str, Any], now: datetime) -> OutboundMessage:
    return OutboundMessage.objects.create(key=uuid.uuid4(), partner=partner, kind=kind, body=body,
                                          created_at=now, next_attempt_at=now)


@transaction.atomic
def forward_item(item: Item, partner: PartnerHotline, *, trace: Trace | None, actor: Actor, now: datetime) -> Forward:
    """Queue a forward of ``item`` to ``partner``. Idempotent: a second call returns the first Forward."""
    existing = Forward.objects.filter(item=item, partner=partner).first()
    if existing is not None:
        return existing
    _usable(partner)
    reference = f"item-{item.pk}"
    try:
        with transaction.atomic():
            message = _queue(partner, MessageKind.FORWARD, forward_body(item, trace=trace, reference=reference), now)
            forward = Forward.objects.create(item=item, partner=partner, message=message, reference=reference,
                                             created_at=now, created_by=actor.label[:200], status_changed_at=now)
    except IntegrityError:
        # A concurrent call forwarded the same pair first; its row is the answer.
        return Forward.objects.get(item=item, partner=partner)
    record(actor, actions.FORWARD_CREATED, forward, now=now,
           after={"item": item.pk, "partner": partner.code, "message_id": str(message.message_id),
                  "url": item.canonical_url})
    return forward


@transaction.atomic
def requeue(message: OutboundMessage, *, actor: Actor, now: datetime) -> None:
    """Send a failed message again, with the same id (after a partner fixed their side)."""
    if message.state != DeliveryState.FAILED:
        raise ExchangeError("only a failed message can be sent again")
    move_outbound(OutboundMessage.objects.filter(pk=message.pk, state=DeliveryState.FAILED), DeliveryState.PENDING,
                  now=now, strict=False, next_attempt_at=now, attempts=0, failed_at=None)
    record(actor, actions.EXCHANGE_REQUEUED, message, now=now, after={"message_id": str(message.message_id)})


# ------------------------------------------------------------------------------ statuses we send


def _status_message(inbound: InboundForward, status: str, now: datetime, note: str) -> OutboundMessage:
    body = {"forward_id": str(inbound.message_id), "status": status, "at": iso(now), "note": note[:1000]}
    return _queue(inbound.partner, MessageKind.STATUS, body, now)


@transaction.atomic
def send_status(item: Item, status: str, *, now: datetime, note: str = "") -> int:
    """Queue ``status`` to every partner that forwarded ``item`` to us; return how many messages."""
    if status not in ExchangeStatus.values:
        raise ValueError(f"status {status!r} is not one of {', '.join(ExchangeStatus.values)}")
    count = 0
    for inbound in InboundForward.objects.filter(item=item).select_related("partner").order_by("pk"):
        message = _status_message(inbound, status, now, note)
        record(SYSTEM, actions.EXCHANGE_STATUS_QUEUED, inbound, now=now,
               after={"item": item.pk, "partner": inbound.partner.code, "status": status,
                      "message_id": str(message.message_id)})
        count += 1
    return count


def _verdict_status(verdict: str) -> tuple[str, str] | None:
    if verdict in ILLEGAL_VERDICTS:
        return ExchangeStatus.ASSESSED, ""
    if verdict in ("not_illegal", "other_harm"):
        return ExchangeStatus.NOT_ILLEGAL, f"verdict: {verdict}"
    return None  # unreachable: nothing is known to report


def report_verdicts(*, now: datetime, limit: int = 50) -> bool:
    """Report the verdict of up to ``limit`` items partners forwarded to us, once per verdict (a later
    re-assessment moves ``assessed_at`` and is reported again); the work of ``steps.verdict_status_step``."""
    due = list(InboundForward.objects.verdict_unreported().values_list("pk", "verdict_reported_for")[:limit])
    for pk, seen in due:
        _report_verdict(pk, seen, now)
    return bool(due)


@transaction.atomic
def _report_verdict(pk: int, seen: datetime | None, now: datetime) -> None:
    inbound = InboundForward.objects.select_related("item", "partner").get(pk=pk)
    item = inbound.item
    # 1. Take the row: only the worker whose conditional UPDATE hits it reports this verdict.
    if InboundForward.objects.filter(pk=pk, verdict_reported_for=seen).update(
            verdict_reported_for=item.assessed_at) != 1:
        return
    # 2. Queue the status (or nothing, for an outcome that is no verdict) and record it.
    found = _verdict_status(item.verdict)
    message = _status_message(inbound, found[0], now, found[1]) if found else None
    record(SYSTEM, actions.EXCHANGE_VERDICT_REPORTED, inbound, now=now,
           after={"item": item.pk, "verdict": item.verdict, "status": found[0] if found else None,
                  "message_id": str(message.message_id) if message else None})


# ------------------------------------------------------------------------------ what partners send us


@transaction.atomic
def receive_forward(partner: PartnerHotline, body: ForwardBody, *, message_id: str, inbound_message: int,
                    now: datetime) -> str:
    """A partner's verified forward: a report from the partner and an ``InboundForward`` linking them;
    return our report's reference. Refused (``ProtocolError`` on ``body.url``) when the URL makes no item."""
    actor = Actor(label=f"partner:{partner.code}")
    incoming = IncomingReport(
        source=Source.PARTNER, urls=[body.url], received_at=now, external_ref=f"{partner.code}:{body.reference}",
        text=f"Forwarded by partner hotline {partner.name} ({partner.code}), their reference {body.reference}.")
    result = receive_reports([incoming], actor=actor, now=now)[0]
    url = result.urls[0]
    if result.report_id is None or url.item_id is None:
        raise bad_schema("body.url", f"{url.code}: {url.reason}")
    inbound = InboundForward.objects.create(
        partner=partner, message_id=message_id, report_id=result.report_id, item_id=url.item_id,
        reference=body.reference, body=body.model_dump(), received_at=now)
    record(actor, actions.EXCHANGE_FORWARD_RECEIVED, inbound, now=now,
           after={"message_id": message_id, "report": result.reference, "item": url.item_id,
                  "their_reference": body.reference, "inbound_message": inbound_message})
    return result.reference or ""


@transaction.atomic
def mark_received(forward: Forward, *, ack: dict[str, Any], attempts: int, now: datetime) -> None:
    """The partner's verified ack (a message) for our forward: it is ``received`` and we know their
    reference (unless a status overtook the ack, which the history then shows)."""
    forward = Forward.objects.select_for_update().select_related("message").get(pk=forward.pk)
    fields = ["partner_reference"]
    forward.partner_reference = str(ack["body"].get("reference", ""))[:200]
    event = ForwardEvent(forward=forward, status=ExchangeStatus.RECEIVED, at=now, recorded_at=now,
                         message_id=uuid.UUID(ack["id"]), note="ack")
    event.applied = _try_transition(forward, ExchangeStatus.RECEIVED, now, fields)
    forward.save(update_fields=fields)
    event.save()
    record(SYSTEM, actions.FORWARD_RECEIVED, forward, now=now,
           after={"partner_reference": forward.partner_reference, "status": forward.status,
                  "message_id": str(forward.message.message_id), "attempts": attempts})


def _try_transition(forward: Forward, to: str, at: datetime, fields: list[str]) -> bool:
    """Apply ``to`` if the table allows it; a late status still fills its own empty time stamp (the
    statistics need when it happened even when it arrived after a later one)."""
    try:
        fields += forward.transition(to, at=at)
    except InvalidTransition:
        stamp = f"{to}_at"
        if getattr(forward, stamp, None) is None:
            setattr(forward, stamp, at)
            fields.append(stamp)
        return False
    return True


@transaction.atomic
def apply_status(forward: Forward, status: str, *, at: datetime, note: str, message_id: str,
                 actor: Actor, now: datetime) -> ForwardEvent:
    """A partner's status for our forward: kept in the history, applied when the table allows it."""
    forward = Forward.objects.select_for_update().get(pk=forward.pk)
    at = min(at, now)  # a partner's clock ahead of ours must not stamp the future
    before = {"status": forward.status}
    fields: list[str] = []
    applied = _try_transition(forward, status, at, fields)
    if fields:
        forward.save(update_fields=fields)
    event = ForwardEvent.objects.create(forward=forward, status=status, at=at, recorded_at=now,
                                        message_id=uuid.UUID(message_id), note=note[:1000], applied=applied)
    record(actor, actions.FORWARD_STATUS_RECEIVED, forward, before=before, now=now,
           after={"status": forward.status, "reported": status, "applied": applied, "message_id": message_id})
    return event


# ------------------------------------------------------------------------------ delivery outcomes


@transaction.atomic
def record_delivery(message: OutboundMessage, ack: dict[str, Any], *, now: datetime) -> None:
    """The partner's verified ``ack`` for ``message``: it is delivered (once, whoever records it first)."""
    done = move_outbound(OutboundMessage.objects.filter(pk=message.pk), DeliveryState.DELIVERED, now=now,
                         strict=False, next_attempt_at=None, answer=ack, last_error="")
    if done != 1:
        return  # another worker recorded it already (its lease had expired): same id, nothing new
    if message.kind == MessageKind.FORWARD:  # its audit event ("forward.received") says it was delivered
        mark_received(Forward.objects.get(message=message), ack=ack["message"], attempts=message.attempts, now=now)
        return
    record(SYSTEM, actions.EXCHANGE_DELIVERED, message, now=now,
           after={"message_id": str(message.message_id), "kind": message.kind, "partner": message.partner.code,
                  "attempts": message.attempts})


@transaction.atomic
def record_failed_attempt(message: OutboundMessage, error: str, *, retryable: bool, now: datetime) -> None:
    """A failed attempt: retry later with backoff, or give up (audited) when it cannot help or the
    attempts are used up."""
    give_up = message.retry_or_fail_unless_done(error, retry=retryable,
                                                max_attempts=settings.HOTLINE_EXCHANGE_MAX_ATTEMPTS, now=now)
    if give_up is None:
        return  # another worker recorded it already (its lease had expired)
    log.warning("exchange message %s to %s: attempt %d failed: %s", message.message_id, message.partner.code,
                message.attempts, error[:300])
    if give_up:
        record(SYSTEM, actions.EXCHANGE_FAILED, message, now=now,
               after={"message_id": str(message.message_id), "attempts": message.attempts, "error": error[:500]})


# ------------------------------------------------------------------------------ the directory


HOTLINE_FIELDS = ("code", "name", "countries", "endpoint", "public_key", "languages", "contact_email", "active")
POLICE_FIELDS = ("name", "country", "kind", "channel", "email", "endpoint", "languages", "active")


def field_changes(obj: Any, values: dict[str, Any], names: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
    """(old, new) of each of ``names`` whose value in ``values`` differs from ``obj``'s."""
    return {n: (getattr(obj, n), values[n]) for n in names if n in values and getattr(obj, n) != values[n]}


def _create_or_update(model: type[M], obj: M | None, values: dict[str, Any], fields: tuple[str, ...], *,
                      actor: Actor, created: str, updated: str, shown: Callable[[str, Any], Any]) -> M:
    """Create a ``model`` row from the cleaned ``values``, or update ``obj`` with the fields that differ: one
    audited event either way (none when nothing changed)."""
    if obj is None:
        obj = model._default_manager.create(**{n: values[n] for n in fields if n in values})
        record(actor, created, obj, after=_audit_values(values, fields))
        return obj
    changes = field_changes(obj, values, fields)
    if changes:
        for name, (_old, new) in changes.items():
            setattr(obj, name, new)
        obj.save(update_fields=list(changes))
        record(actor, updated, obj, before={n: shown(n, c[0]) for n, c in changes.items()},
               after={n: shown(n, c[1]) for n, c in changes.items()})
    return obj


@transaction.atomic
def save_hotline(values: dict[str, Any], *, actor: Actor, hotline: PartnerHotline | None = None) -> PartnerHotline:
    """Create a partner hotline, or update ``hotline`` with the cleaned ``values`` of a HotlineForm."""
    return _create_or_update(PartnerHotline, hotline, values, HOTLINE_FIELDS, actor=actor,
                             created=actions.PARTNER_CREATED, updated=actions.PARTNER_UPDATED, shown=_shown)


@transaction.atomic
def save_police(values: dict[str, Any], *, actor: Actor, contact: PoliceContact | None = None) -> PoliceContact:
    """Create a police contact, or update ``contact`` with the cleaned ``values`` of a PoliceForm."""
    return _create_or_update(PoliceContact, contact, values, POLICE_FIELDS, actor=actor,
                             created=actions.POLICE_CONTACT_CREATED, updated=actions.POLICE_CONTACT_UPDATED,
                             shown=lambda _name, value: value)


def _shown(name: str, value: Any) -> Any:
    # The audit log shows that a key changed and which one, by its short fingerprint.
    return f"{value[:8]}…" if name == "public_key" and value else value


def _audit_values(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {n: _shown(n, values[n]) for n in names if n in values}
