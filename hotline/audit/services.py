"""Writing and checking the audit chain. Every domain service calls ``record`` in its transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from hotline.audit.models import GENESIS, AuditEvent, AuditHead


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff user, an API client, or the system itself (workers)."""

    label: str
    user_id: int | None = None

    @classmethod
    def of_user(cls, user: Any) -> Actor:
        return cls(label=f"user:{user.get_username()}", user_id=user.pk)


SYSTEM = Actor(label="system")


@dataclass(frozen=True)
class Change:
    """One event to append: ``object`` is a model instance or a ``(type, id)`` pair."""

    action: str
    object: Model | tuple[str, object]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def object_ref(obj: Model | tuple[str, object]) -> tuple[str, str]:
    if isinstance(obj, tuple):
        return obj[0], str(obj[1])
    return obj._meta.label_lower, str(obj.pk)


def record(
    actor: Actor,
    action: str,
    obj: Model | tuple[str, object],
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the transaction of the change it describes."""
    return record_many(actor, [Change(action, obj, before, after)], now=now)[0]


def record_many(
    actor: Actor, changes: Iterable[Change], *, now: datetime | None = None
) -> list[AuditEvent]:
    """Append several events in order, in one locked step (used by batch intake)."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be written inside the transaction of the change")
    at = now or timezone.now()
    head = _locked_head()
    events: list[AuditEvent] = []
    for change in changes:
        object_type, object_id = object_ref(change.object)
        event = AuditEvent(
            seq=head.seq + 1,
            at=at,
            actor_label=actor.label,
            actor_user_id=actor.user_id,
            action=change.action,
            object_type=object_type,
            object_id=object_id,
            before=change.before,
            after=change.after,
            prev_hash=head.hash,
        )
        event.hash = event.compute_hash()
        head.seq, head.hash = event.seq, event.hash
        events.append(event)
    if events:
        AuditEvent.objects.bulk_create(events, batch_size=1000)
        head.save(update_fields=["seq", "hash"])
    return events


def _locked_head() -> AuditHead:
    # 1. Lock the head row (PostgreSQL row lock; SQLite transactions are already IMMEDIATE).
    # 2. Read the newest seq and hash under that lock, so two writers can never fork the chain.
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        head, _ = AuditHead.objects.get_or_create(pk=1)
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


@dataclass(frozen=True)
class Problem:
    seq: int | None
    message: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    problems: list[Problem]
    head_hash: str

    @property
    def ok(self) -> bool:
        return not self.problems


def verify() -> VerifyResult:
    """Recompute every hash and link; report edited, inserted, deleted or truncated rows."""
    problems: list[Problem] = []
    expected_prev: str | None = None
    expected_seq: int | None = None
    checked = 0
    last: AuditEvent | None = None
    for event in _ordered_events():
        checked += 1
        problems.extend(_check_one(event, expected_seq, expected_prev))
        expected_seq, expected_prev, last = event.seq + 1, event.hash, event
    problems.extend(_check_head(last))
    return VerifyResult(checked=checked, problems=problems, head_hash=last.hash if last else GENESIS)


def _ordered_events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=5000)


def _check_one(event: AuditEvent, seq: int | None, prev: str | None) -> list[Problem]:
    found: list[Problem] = []
    if seq is not None and event.seq != seq:
        found.append(Problem(event.seq, f"events {seq}..{event.seq - 1} are missing"))
    elif seq is None and event.seq == 1 and event.prev_hash != GENESIS:
        found.append(Problem(event.seq, "first event does not start from the genesis hash"))
    if prev is not None and event.prev_hash != prev:
        found.append(Problem(event.seq, "link to the previous event is broken"))
    if event.compute_hash() != event.hash:
        found.append(Problem(event.seq, "content does not match its hash (edited)"))
    return found


def _check_head(last: AuditEvent | None) -> list[Problem]:
    head = AuditHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    last_seq, last_hash = (last.seq, last.hash) if last else (0, GENESIS)
    if (head_seq, head_hash) != (last_seq, last_hash):
        return [Problem(last_seq or None, f"chain ends at #{last_seq} but head says #{head_seq}")]
    return []


def timeline(object_type: str, object_id: object) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_object(object_type, object_id))


__all__ = ["SYSTEM", "Actor", "Change", "record", "record_many", "timeline", "verify"]
