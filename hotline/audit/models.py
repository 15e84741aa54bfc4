"""Append-only, hash-chained audit events: who did what to which object, and when."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from django.db import models

GENESIS = "0" * 64


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def for_object(self, object_type: str, object_id: object) -> AuditEventQuerySet:
        return self.filter(object_type=object_type, object_id=str(object_id)).order_by("seq")


class AuditEvent(models.Model):
    """One decision or state change. Rows are never updated or deleted (database triggers).

    Events form several hash chains ("streams", docs/audit.md) so concurrent writers do not queue
    on one lock. ``position`` numbers the events of one stream without gaps; ``hash`` covers the
    content, the global ``seq`` and the previous event's hash in the same stream, so an edited,
    inserted, deleted or reordered row breaks its stream. ``AuditHead`` holds each stream's newest
    hash (a cut tail shows) and ``AuditSeal`` rows fold all heads into one chain of seals.

    ``seq`` is unique and increasing within a stream and orders events for display across streams;
    it may have gaps (PostgreSQL sequence), the per-stream ``position`` may not.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    stream = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor_label = models.CharField(max_length=200)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects: ClassVar[AuditEventQuerySet] = AuditEventQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # The item timeline and every "history of X" page: for_object().
            models.Index(fields=["object_type", "object_id", "seq"], name="audit_object_seq_idx"),
            # Exposure and workload reports: events of one actor over time.
            models.Index(fields=["actor_user_id", "at"], name="audit_actor_at_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["stream", "position"], name="audit_stream_position_uniq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def compute_hash(self) -> str:
        return chain_hash(
            prev_hash=self.prev_hash,
            seq=self.seq,
            at=self.at.isoformat(),
            actor_label=self.actor_label,
            actor_user_id=self.actor_user_id,
            action=self.action,
            object_type=self.object_type,
            object_id=self.object_id,
            before=self.before,
            after=self.after,
        )


class AuditHead(models.Model):
    """The newest event of one stream (``id`` is the stream number); locking it serialises appends
    to that stream only. Writers take any unlocked stream, so N streams admit N concurrent writers."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    position = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"stream {self.id} head #{self.position}"


class AuditSeal(models.Model):
    """A snapshot of every stream head, chained to the previous seal (append-only, like events).

    ``heads`` maps stream number to ``[position, hash]``. ``verify`` checks that each named event
    still exists with that hash, so a stream cut back behind a seal shows even if its head row was
    rewound too. ``prev_hash`` is unique: two sealers racing cannot fork the seal chain.
    """

    sealed_at = models.DateTimeField()
    heads = models.JSONField()
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"seal {self.pk}"

    def compute_hash(self) -> str:
        return chain_hash(prev_hash=self.prev_hash, sealed_at=self.sealed_at.isoformat(), heads=self.heads)


# json.dumps with these options builds a new encoder per call; one shared encoder gives the same text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(**fields: Any) -> str:
    payload = _CANONICAL.encode(fields)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()
