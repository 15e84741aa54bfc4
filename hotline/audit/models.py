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

    ``hash`` covers every other field and the previous event's hash, so an edited, inserted or
    deleted row breaks the chain; ``AuditHead`` holds the newest hash so a cut tail shows too.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    actor_label = models.CharField(max_length=200)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects: ClassVar[AuditEventQuerySet] = AuditEventQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # The item timeline and every "history of X" page: for_object().
            models.Index(fields=["object_type", "object_id", "seq"], name="audit_object_seq_idx"),
            # Exposure and workload reports: events of one actor over time.
            models.Index(fields=["actor_user_id", "at"], name="audit_actor_at_idx"),
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
    """The single row naming the newest event; locking it serialises appends to the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")]

    def __str__(self) -> str:
        return f"head #{self.seq}"


def chain_hash(**fields: Any) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()
