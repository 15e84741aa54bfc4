"""The shape of a retention policy (one per data class) and what a purge reports back.

A policy names its rows, the time stamp its clock starts from (annotated as ``retention_start``)
and how to purge a batch. ``due(now)`` and the plan both come from ``pending()``, so the plan
shows exactly what the worker will do.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, cast

from django.db import models
from django.db.models import Q, QuerySet
from django.utils.functional import Promise

from hotline.cases.models import Case
from hotline.lib import claim
from hotline.reports.models import Item
from hotline.retention.models import Hold, HoldTarget, PurgedObject

START = "retention_start"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PurgeResult:
    """What one purge of one batch destroyed: the objects, and a SHA-256 per destroyed thing."""

    data_class: str
    object_ids: list[int] = field(default_factory=list)
    # One SHA-256 per destroyed thing: a blob's content hash, or the hash of a cleared value.
    digests: list[str] = field(default_factory=list)
    details: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.object_ids)

    @property
    def sha256(self) -> str:
        """One hash over everything destroyed (sorted, so it does not depend on row order)."""
        return sha256_text("\n".join(sorted(self.digests)))

    def audit(self) -> dict[str, Any]:
        return {"class": self.data_class, "count": self.count, "objects": sorted(self.object_ids),
                "sha256": self.sha256, "digests": sorted(self.digests), **self.details}


def held_item_ids() -> QuerySet[Item, int]:
    """Items under an active hold, directly or through a held case."""
    active = Hold.objects.active()
    direct = Q(pk__in=active.filter(object_type=HoldTarget.ITEM).values("object_id"))
    via_case = Q(cases__in=Case.objects.filter(
        pk__in=active.filter(object_type=HoldTarget.CASE).values("object_id")))
    return Item.objects.filter(direct | via_case).values_list("pk", flat=True)


class Policy(ABC):
    """One data class. Subclasses set the class attributes and implement ``rows`` and ``purge``."""

    name: ClassVar[str]
    label: ClassVar[str | Promise]
    # The time stamp the clock starts from, as shown to people and in the docs.
    start_label: ClassVar[str | Promise]
    default: ClassVar[str]
    # What goes and what stays, for the plan page.
    destroys: ClassVar[str | Promise]
    keeps: ClassVar[str | Promise]
    # Lookup from a row to its item(s), for legal holds; None when rows belong to no item.
    item_path: ClassVar[str | None] = "item"
    # False for a class that deletes or clears nothing (it only reports).
    destructive: ClassVar[bool] = True

    def __init__(self, duration: timedelta | None) -> None:
        self.duration = duration

    @property
    def enabled(self) -> bool:
        return self.duration is not None

    @abstractmethod
    def rows(self) -> QuerySet[Any]:
        """Rows that still hold data of this class, annotated with ``retention_start`` (may be null)."""

    @abstractmethod
    def purge(self, rows: Sequence[Any], *, now: datetime) -> PurgeResult:
        """Destroy this class's data in ``rows`` (locked, due, not held); runs inside a transaction."""

    def pending(self) -> QuerySet[Any]:
        """Rows whose clock has started and that no hold protects."""
        rows = self.rows().filter(**{f"{START}__isnull": False})
        if self.item_path is not None:
            rows = rows.exclude(**{f"{self.item_path}__in": held_item_ids()})
        return rows

    def due_by(self, moment: datetime) -> QuerySet[Any]:
        """Rows that will be due at ``moment`` if nothing changes (empty when the class is off)."""
        if self.duration is None:
            return self.rows().none()
        return self.pending().filter(**{f"{START}__lte": moment - self.duration}).order_by(START, "pk")

    def due(self, now: datetime) -> QuerySet[Any]:
        return self.due_by(now)

    def lock(self, ids: Sequence[int], now: datetime) -> list[Any]:
        """Lock ``ids`` (skipping rows another worker holds) and return those still due."""
        model: type[models.Model] = self.rows().model
        locked = list(claim.skip_locked(model._default_manager.filter(pk__in=ids)).values_list("pk", flat=True))
        return list(self.due(now).filter(pk__in=locked))


def references_to(model: type[models.Model]) -> list[tuple[type[models.Model], str]]:
    """Every (model, column) that points to ``model``, hidden ones (``related_name="+"``) included,
    found from the models so that a relation added by another domain is never missed."""
    found: list[tuple[type[models.Model], str]] = []
    for rel in model._meta.get_fields(include_hidden=True):
        if isinstance(rel, models.ForeignObjectRel) and not rel.many_to_many:
            found.append((cast(type[models.Model], rel.related_model), rel.field.attname))
    return found


def mark_purged(data_class: str, digests: dict[int, str], now: datetime) -> None:
    """Markers for rows whose data went but which stay (see ``PurgedObject``)."""
    PurgedObject.objects.bulk_create([
        PurgedObject(data_class=data_class, object_id=pk, purged_at=now, sha256=digest)
        for pk, digest in digests.items()
    ])


def already_purged(data_class: str) -> models.Exists:
    """True for rows that carry a purge marker of this class (filter with ``~already_purged(...)``)."""
    return models.Exists(PurgedObject.objects.filter(data_class=data_class, object_id=models.OuterRef("pk")))
