"""Retention: legal holds on items and cases, markers for purged objects, and each class's schedule."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class HoldTarget(models.TextChoices):
    ITEM = "item", _("Item")
    CASE = "case", _("Case")


class HoldQuerySet(models.QuerySet["Hold"]):
    def active(self) -> HoldQuerySet:
        return self.filter(released_at__isnull=True)


class Hold(models.Model):
    """A legal hold: while active, no purge touches the data of the held item or case.

    Holds are released, never deleted, so the record of who held what and why stays.
    """

    object_type = models.CharField(_("held object"), max_length=10, choices=HoldTarget.choices)
    object_id = models.PositiveBigIntegerField(_("object number"))
    reason = models.TextField(_("reason"))
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(_("placed"))
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    release_reason = models.TextField(_("reason for release"), blank=True)

    objects: ClassVar[HoldQuerySet] = HoldQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # held_item_ids(): every purge excludes the objects of active holds.
            models.Index(fields=["object_type", "object_id"], name="hold_active_idx",
                         condition=models.Q(released_at__isnull=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="hold_has_reason"),
            models.CheckConstraint(
                condition=models.Q(released_at__isnull=True, released_by__isnull=True)
                | models.Q(released_at__isnull=False, released_by__isnull=False),
                name="hold_release_complete"),
        ]

    def __str__(self) -> str:
        return f"hold on {self.object_type} {self.object_id}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class PurgedObject(models.Model):
    """That one object's data of one class was purged, when, and the SHA-256 of what went.

    Written in the same transaction that clears the data, so a row whose blob pointer is empty
    always says why (purged, not never captured); the unique pair also refuses a second purge.
    """

    data_class = models.CharField(max_length=32)
    object_id = models.PositiveBigIntegerField()
    purged_at = models.DateTimeField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            # Also serves the "not purged yet" anti-join of every anonymising policy.
            models.UniqueConstraint(fields=["data_class", "object_id"], name="purged_once_per_class"),
        ]

    def __str__(self) -> str:
        return f"{self.data_class} {self.object_id} purged {self.purged_at:%Y-%m-%d}"


class Schedule(models.Model):
    """When a class's purge runs next, and the lease of the worker running it now.

    A run starts at most once a day; a run of many batches continues step after step
    (``next_run_at`` stays due) until a batch comes back short.
    """

    data_class = models.CharField(max_length=32, unique=True)
    next_run_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    run_purged = models.PositiveIntegerField(default=0)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_purged = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.data_class}: next {self.next_run_at:%Y-%m-%d %H:%M}"

    def leased(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now
