"""Routing: who must act on an item, decided from its verdict and its latest trace."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib import states
from hotline.lib.outbox import OutboxRow


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


class ReferralStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (gave up)")


# (from, to) -> the time field the move stamps.
REFERRAL_TRANSITIONS: states.Transitions = {
    (ReferralStatus.QUEUED, ReferralStatus.SENDING): None,  # claimed
    (ReferralStatus.SENDING, ReferralStatus.SENDING): None,  # a dead sender's lease ran out
    (ReferralStatus.SENDING, ReferralStatus.SENT): "sent_at",
    (ReferralStatus.SENDING, ReferralStatus.QUEUED): None,  # a retry
    (ReferralStatus.SENDING, ReferralStatus.FAILED): None,
}


class PoliceAnswer(models.TextChoices):
    NONE = "", _("No answer yet")
    ACCEPTED = "accepted", _("Accepted")
    HOLD = "hold", _("Hold (extend the evidence-preservation hold)")
    RELEASE = "release", _("Release (the provider may be notified)")
    NOT_PURSUED = "not_pursued", _("Not pursued")


class ReferralQuerySet(models.QuerySet["Referral"]):
    def delivery_due(self, now: datetime) -> ReferralQuerySet:
        return self.filter(status=ReferralStatus.QUEUED, next_attempt_at__lte=now)

    def lease_expired(self, now: datetime) -> ReferralQuerySet:
        return self.filter(status=ReferralStatus.SENDING, next_attempt_at__lte=now)


class Referral(OutboxRow):
    """A police referral of one item or a group: a structured summary plus an evidence package, delivered once.

    `key` is the idempotency key: the e-mail Message-ID and the HTTP idempotency header derive from it, so a
    resend after a crash is the same message."""

    transitions = REFERRAL_TRANSITIONS
    state_field = "status"
    sending_state, retry_state, failed_state = ReferralStatus.SENDING, ReferralStatus.QUEUED, ReferralStatus.FAILED
    backoff_cap = timedelta(hours=24)  # the referral worker's cap before the outbox (notices: 6 h)

    police = models.ForeignKey("partners.PoliceContact", on_delete=models.PROTECT, related_name="referrals")
    items = models.ManyToManyField("reports.Item", related_name="referrals")
    created_at = models.DateTimeField(_("created at"))
    status = models.CharField(_("status"), max_length=10, choices=ReferralStatus.choices,
                              default=ReferralStatus.QUEUED)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    summary = models.JSONField(default=dict)
    package_path = models.CharField(max_length=500, blank=True)
    package_sha256 = models.CharField(max_length=64, blank=True)
    hold_until = models.DateTimeField(_("hold until"), null=True, blank=True)
    answer = models.CharField(_("police answer"), max_length=12, choices=PoliceAnswer.choices, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answer_note = models.TextField(_("note"), blank=True)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # delivery_due() / lease_expired(): the referral worker.
            models.Index(fields=["status", "next_attempt_at"], name="referral_due_idx"),
        ]

    def __str__(self) -> str:
        return f"referral {str(self.key)[:8]} to {self.police_id}"


def move_referral(query: models.QuerySet[Referral], to: str, *, now: datetime, strict: bool = True,
                  **changes: Any) -> int:
    """The one way a referral changes status (see REFERRAL_TRANSITIONS)."""
    return states.move(query, to, table=REFERRAL_TRANSITIONS, now=now, field="status", strict=strict, **changes)
