"""Routing: who must act on an item, decided from its verdict and its latest trace."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _


class Route(models.TextChoices):
    DOMESTIC = "domestic", _("Hosted at home: police first, then notice to the provider")
    PARTNER = "partner", _("Hosted abroad: forward to the partner hotline")
    INTERNATIONAL_POLICE = "international_police", _("Hosted abroad, no partner: international police channel")
    OTHER_HARM = "other_harm", _("Other harm: own route")
    UNKNOWN_LOCATION = "unknown_location", _("Hosting unknown: analyst to resolve")
    NONE = "none", _("Nothing to route")


class DecisionQuerySet(models.QuerySet["Decision"]):
    def current(self) -> DecisionQuerySet:
        return self.filter(superseded_at__isnull=True)

    def notice_due(self, now: datetime) -> DecisionQuerySet:
        """Decisions whose notice to the provider may now be sent (hold over); see takedown."""
        return self.current().filter(notice_due_at__lte=now)


class Decision(models.Model):
    """One routing decision for one item, with the inputs it was made from. A new trace that changes
    country or provider supersedes it with a new decision (history kept)."""

    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="routing_decisions")
    trace = models.ForeignKey("tracing.Trace", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"))
    route = models.CharField(_("route"), max_length=24, choices=Route.choices)
    inputs = models.JSONField(default=dict)
    partner = models.ForeignKey("partners.PartnerHotline", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    police = models.ForeignKey("partners.PoliceContact", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    direct_notice = models.BooleanField(_("notice the provider directly"), default=False)
    hold_until = models.DateTimeField(_("evidence-preservation hold until"), null=True, blank=True)
    # When the notice to the provider may go out (the hold's end); cleared once takedown has taken it.
    notice_due_at = models.DateTimeField(null=True, blank=True)
    needs_analyst = models.BooleanField(_("needs an analyst"), default=False)
    superseded_at = models.DateTimeField(null=True, blank=True)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        indexes = [
            # notice_due(): takedown's worker polls this.
            models.Index(fields=["notice_due_at"], name="decision_notice_due_idx",
                         condition=models.Q(notice_due_at__isnull=False, superseded_at__isnull=True)),
            models.Index(fields=["item", "-decided_at"], name="decision_item_latest_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["item"], condition=models.Q(superseded_at__isnull=True),
                                    name="decision_one_current_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.route}"
