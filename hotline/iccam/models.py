"""What the connector keeps: ICCAM's ids for our items, the code table, the pull's state, and the push outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.lib import states
from hotline.lib.outbox import OutboxRow


class CodeField(models.TextChoices):
    CLASSIFICATION = "classification", _("Classification")
    AGE = "age", _("Age category")
    GENDER = "gender", _("Gender category")
    SITE_TYPE = "site_type", _("Site type")
    COMMERCIALITY = "commerciality", _("Commerciality")
    PAYMENT_METHOD = "payment_method", _("Payment method")
    ACTION_TYPE = "action_type", _("Action type")
    REASON = "reason", _("Action reason")


# CodeField -> the reference endpoint it is loaded from (reasons have none in the reference: seeded only)
ENDPOINTS: dict[str, str] = {
    CodeField.CLASSIFICATION: "rest/classifications", CodeField.AGE: "rest/age-categories",
    CodeField.GENDER: "rest/gender-categories", CodeField.SITE_TYPE: "rest/site-types",
    CodeField.COMMERCIALITY: "rest/commercialities", CodeField.PAYMENT_METHOD: "rest/payment-methods",
    CodeField.ACTION_TYPE: "rest/action-types",
}


class IccamCode(models.Model):
    """The one mapping table: an ICCAM code (field, id, name) and the code of ours it stands for.

    Names come from ICCAM's reference endpoints (``load_codes``); ``our_code`` is ours to set (seeded from
    the reference's 2023 table). One of our codes maps to one ICCAM id per field."""

    field = models.CharField(max_length=20, choices=CodeField.choices)
    iccam_id = models.IntegerField()
    name = models.CharField(max_length=200)
    our_code = models.CharField(max_length=40, blank=True)
    loaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["field", "iccam_id"]
        constraints = [
            models.UniqueConstraint(fields=["field", "iccam_id"], name="iccam_code_unique_id"),
            models.UniqueConstraint(fields=["field", "our_code"], condition=~models.Q(our_code=""),
                                    name="iccam_code_unique_ours"),
        ]

    def __str__(self) -> str:
        return f"{self.field} {self.iccam_id} {self.name}"


class PullState(models.Model):
    """One row: the pull's lease (so one worker pulls at a time), its window start, and its last outcome."""

    lease_until = models.DateTimeField(null=True, blank=True)
    since = models.DateTimeField(null=True, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # ICCAM asked us to slow down (429 Retry-After): no call before this time, pull or push.
    paused_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ICCAM pull (last {self.last_pull_at})"


class Origin(models.TextChoices):
    PULLED = "pulled", _("Received from ICCAM")
    PUSHED = "pushed", _("Created by us in ICCAM")


class Content(models.Model):
    """One ICCAM content item and the item of ours it became. ``content_id`` is unique: the pull stores
    this row in the same transaction as the report it creates, so an item is never imported twice."""

    content_id = models.BigIntegerField(unique=True)
    iccam_report_id = models.BigIntegerField()
    origin = models.CharField(max_length=8, choices=Origin.choices)
    item = models.ForeignKey("reports.Item", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="iccam_contents")
    report = models.ForeignKey("reports.Report", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    url = models.TextField()
    is_source_url = models.BooleanField(default=False)
    assigned_country = models.CharField(max_length=2, blank=True)
    hosting_country = models.CharField(max_length=2, blank=True)
    country_assignment_date = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField()
    # The hotline reference we wrote back (pulled items), kept so a repeated write sends the same value.
    hotline_reference = models.CharField(max_length=100, blank=True)
    referenced_at = models.DateTimeField(null=True, blank=True)
    reference_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            # unreferenced(): pulled items whose reference is still to be written.
            models.Index(fields=["imported_at"], name="iccam_content_unref_idx",
                         condition=models.Q(referenced_at__isnull=True)),
            models.Index(fields=["iccam_report_id"], name="iccam_content_report_idx"),
        ]

    def __str__(self) -> str:
        return f"ICCAM {self.iccam_report_id}#{self.content_id}"


class PushKind(models.TextChoices):
    REPORT = "report", _("Create report")
    ASSESSMENT = "assessment", _("Assessment")
    ACTION = "action", _("Action")
    MOVE = "move", _("Moved (new hosting and country)")


class PushState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    REFUSED = "refused", _("Refused by ICCAM")
    FAILED = "failed", _("Failed (gave up)")
    UNCERTAIN = "uncertain", _("Uncertain (check in ICCAM)")


OPEN_STATES = (PushState.QUEUED, PushState.SENDING)

PUSH_TRANSITIONS: states.Transitions = {
    (PushState.QUEUED, PushState.SENDING): None,
    (PushState.SENDING, PushState.SENDING): None,  # a dead sender's lease ran out
    (PushState.SENDING, PushState.SENT): "sent_at",
    (PushState.SENDING, PushState.QUEUED): None,  # a retry after back-off
    (PushState.SENDING, PushState.REFUSED): "refused_at",
    (PushState.SENDING, PushState.FAILED): None,
    (PushState.SENDING, PushState.UNCERTAIN): None,  # a report creation cut off mid-send: never re-posted
}


class PushQuerySet(models.QuerySet["Push"]):
    def due(self, now: datetime) -> PushQuerySet:
        """Ready to send, and first in its lane: no earlier row of the same lane still open."""
        earlier = Push.objects.filter(lane=models.OuterRef("lane"), pk__lt=models.OuterRef("pk"),
                                      state__in=OPEN_STATES)
        return self.filter(state__in=OPEN_STATES, next_attempt_at__lte=now).exclude(models.Exists(earlier))

    def problems(self) -> PushQuerySet:
        """What managers look at: refused, given up, uncertain, or retrying after an error."""
        return self.filter(models.Q(state__in=[PushState.REFUSED, PushState.FAILED, PushState.UNCERTAIN])
                           | models.Q(state__in=OPEN_STATES, attempts__gt=0) & ~models.Q(last_error=""))


class Push(OutboxRow):
    """One write to ICCAM, a row before it is sent. ``dedup`` names the write (``action:<contentId>:<type>``),
    unique, so each write exists once; ``lane`` orders the writes of one content item (or one item of
    ours, for a new report): a row waits until every earlier row of its lane is settled."""

    transitions = PUSH_TRANSITIONS
    retry_state, failed_state = PushState.QUEUED, PushState.FAILED
    backoff_cap = timedelta(hours=6)

    kind = models.CharField(max_length=12, choices=PushKind.choices)
    dedup = models.CharField(max_length=80, unique=True)
    lane = models.CharField(max_length=40)
    content = models.ForeignKey(Content, null=True, blank=True, on_delete=models.CASCADE, related_name="pushes")
    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="iccam_pushes")
    action_type = models.SmallIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=PushState.choices, default=PushState.QUEUED)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)

    objects: ClassVar[PushQuerySet] = PushQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["pk"]
        indexes = [
            # due(): the push worker.
            models.Index(fields=["next_attempt_at"], name="iccam_push_due_idx",
                         condition=models.Q(state__in=["queued", "sending"])),
            # due()'s lane test: earlier open rows of one lane.
            models.Index(fields=["lane", "state"], name="iccam_push_lane_idx"),
        ]

    def __str__(self) -> str:
        return f"ICCAM push {self.dedup} ({self.state})"


def move_push(query: models.QuerySet[Push], to: str, *, now: datetime, strict: bool = True, **changes: Any) -> int:
    """The one way a push changes state (see PUSH_TRANSITIONS)."""
    return states.move(query, to, table=PUSH_TRANSITIONS, now=now, strict=strict, **changes)
