"""Case files: items (and through them reports) grouped for the police, their referrals, and the outcome
history the police liaison feeds back (one row per outcome event, for exact statistics later)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.cases.codes import CaseKind, CaseStatus, DismissalReason, OutcomeCode, OutcomeSource
from hotline.reports.models import Item


class InvalidTransition(Exception):
    """A case status change that the transition table does not allow."""


# The only status changes there are; each names the time stamp it sets.
TRANSITIONS: dict[tuple[str, str], str] = {
    (CaseStatus.OPEN, CaseStatus.CLOSED): "closed_at",
    (CaseStatus.CLOSED, CaseStatus.OPEN): "reopened_at",
}


class CaseSequence(models.Model):
    """The last case number handed out per year; its row lock serialises reference allocation."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class CaseQuerySet(models.QuerySet["Case"]):
    def with_current_outcome(self) -> CaseQuerySet:
        """Annotate `current_outcome` and `current_outcome_on`: the latest outcome by date."""
        latest = Outcome.objects.filter(case=models.OuterRef("pk")).latest_first()
        return self.annotate(current_outcome=models.Subquery(latest.values("code")[:1]),
                             current_outcome_on=models.Subquery(latest.values("decided_on")[:1]))


class Case(models.Model):
    """A case file: items that belong together (same site, series or suspect account)."""

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=CaseKind.choices)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    opened_at = models.DateTimeField(_("opened at"))
    status_changed_at = models.DateTimeField()
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    reopened_at = models.DateTimeField(_("reopened at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    items: models.ManyToManyField[Item, CaseItem] = models.ManyToManyField(
        Item, through="CaseItem", related_name="cases")
    referrals = models.ManyToManyField("routing.Referral", blank=True, related_name="cases")

    objects: ClassVar[CaseQuerySet] = CaseQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [
            # The case list: newest first, filtered by status.
            models.Index(fields=["status", "-opened_at"], name="case_status_opened_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    def transition(self, to: str, *, now: datetime) -> list[str]:
        """Move to status `to`; return the fields changed (for `save(update_fields=...)`)."""
        stamp = TRANSITIONS.get((self.status, to))
        if stamp is None:
            raise InvalidTransition(f"status: case {self.reference} cannot go from {self.status} to {to}")
        self.status, self.status_changed_at = to, now
        setattr(self, stamp, now)
        return ["status", "status_changed_at", stamp]


class CaseItem(models.Model):
    """That an item belongs to a case, since when and on whose word. An item may be in several cases."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships")
    item = models.ForeignKey("reports.Item", on_delete=models.PROTECT, related_name="case_memberships")
    added_at = models.DateTimeField(_("added at"))
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "item"], name="caseitem_unique_pair")]

    def __str__(self) -> str:
        return f"case {self.case_id} <- item {self.item_id}"


class OutcomeImport(models.Model):
    """One CSV file of outcomes the police sent: what it held and what became of each line."""

    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64)
    imported_at = models.DateTimeField(_("imported at"))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    actor_label = models.CharField(max_length=200)
    lines = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    existing = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)

    class Meta:
        ordering = ["-imported_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.imported_at:%Y-%m-%d})"


class OutcomeQuerySet(models.QuerySet["Outcome"]):
    def latest_first(self) -> OutcomeQuerySet:
        """Newest decision first; on the same date, the one recorded last wins."""
        return self.order_by("-decided_on", "-recorded_at", "-pk")


class Outcome(models.Model):
    """One outcome event the police fed back: what, decided on which date, recorded when and by whom."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="outcomes")
    code = models.CharField(_("outcome"), max_length=20, choices=OutcomeCode.choices)
    reason = models.CharField(_("dismissal reason"), max_length=30, choices=DismissalReason.choices, blank=True)
    decided_on = models.DateField(_("date"))
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_by_label = models.CharField(max_length=200)
    source = models.CharField(_("source"), max_length=10, choices=OutcomeSource.choices)
    import_batch = models.ForeignKey(OutcomeImport, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="outcomes")
    note = models.TextField(_("note"), blank=True)

    objects: ClassVar[OutcomeQuerySet] = OutcomeQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["decided_on", "recorded_at", "pk"]
        indexes = [
            # Statistics by period (dismissal rate per year): outcomes of a code between two dates.
            models.Index(fields=["code", "decided_on"], name="outcome_code_date_idx"),
        ]
        constraints = [
            # One event per (case, outcome, date): a re-imported file creates nothing twice. It also serves
            # latest_first() per case, whose leading column is the case.
            models.UniqueConstraint(fields=["case", "code", "decided_on"], name="outcome_unique_event"),
            models.CheckConstraint(
                condition=models.Q(code=OutcomeCode.DISMISSED, reason__gt="")
                | (~models.Q(code=OutcomeCode.DISMISSED) & models.Q(reason="")),
                name="outcome_reason_only_for_dismissal"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.code} on {self.decided_on}"
