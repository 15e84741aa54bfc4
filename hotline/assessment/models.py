"""An analyst's assessment of an item and its review; reports without a URL (incidents) and their screenshots."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from hotline.assessment.codes import (
    AgeGroup,
    Commerciality,
    ContentType,
    Gender,
    LegalLimb,
    OtherHarm,
    Reason,
    SiteType,
    Verdict,
)
from hotline.lib.fields import EncryptedTextField


class Kind(models.TextChoices):
    INITIAL = "initial", _("First assessment")
    REVIEW = "review", _("Second review")


class AssessmentQuerySet(models.QuerySet["Assessment"]):
    def final(self) -> AssessmentQuerySet:
        return self.filter(is_final=True)


class Assessment(models.Model):
    """The DOMAIN.md §3 fields for one item, as one analyst judged them at one moment."""

    item = models.ForeignKey("reports.Item", on_delete=models.CASCADE, related_name="assessments")
    # None for a verdict inherited from known content (``inherited``), made by no analyst.
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    inherited = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INITIAL)
    reviews = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reviewed_by"
    )
    is_final = models.BooleanField(default=False)
    disagrees = models.BooleanField(default=False)
    verdict = models.CharField(_("verdict"), max_length=20, choices=Verdict.choices)
    legal_limb = models.CharField(_("legal limb"), max_length=24, choices=LegalLimb.choices, blank=True)
    content_type = models.CharField(_("content"), max_length=10, choices=ContentType.choices, blank=True)
    is_virtual = models.BooleanField(_("virtual (computer-generated or AI)"), default=False)
    is_manipulated = models.BooleanField(_("digitally manipulated"), default=False)
    is_self_generated = models.BooleanField(_("self-generated"), default=False)
    is_child_modelling = models.BooleanField(_("child modelling"), default=False)
    age_group = models.CharField(_("apparent age group"), max_length=16, choices=AgeGroup.choices, blank=True)
    gender = models.CharField(_("gender"), max_length=16, choices=Gender.choices, blank=True)
    site_type = models.CharField(_("site type"), max_length=20, choices=SiteType.choices, blank=True)
    commerciality = models.CharField(
        _("commerciality"), max_length=16, choices=Commerciality.choices, blank=True
    )
    payment_method = models.CharField(_("payment method"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)
    other_harm = models.CharField(_("kind of harm"), max_length=16, choices=OtherHarm.choices, blank=True)
    second_opinion = models.BooleanField(_("ask a second analyst"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    # CyberTipline report annotations (codes.REPORT_ANNOTATIONS) ...
    ann_sextortion = models.BooleanField(_("sextortion"), default=False)
    ann_solicitation = models.BooleanField(_("solicitation"), default=False)
    ann_minor_to_minor = models.BooleanField(_("minor to minor"), default=False)
    # ... and file annotations (codes.FILE_ANNOTATIONS): page-wide, or any file's when classified per file.
    ann_generative_ai = models.BooleanField(_("generative AI"), default=False)
    ann_self_production = models.BooleanField(_("self-production"), default=False)
    ann_viral = models.BooleanField(_("viral / meme"), default=False)
    ann_live_streaming = models.BooleanField(_("live streaming"), default=False)

    objects: ClassVar[AssessmentQuerySet] = AssessmentQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # Item page history and "final verdict of item": newest first per item.
            models.Index(fields=["item", "-created_at"], name="assessment_item_idx"),
            # Workload statistics per analyst and period.
            models.Index(fields=["analyst", "created_at"], name="assessment_analyst_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=models.Q(is_final=True), name="assessment_one_final_per_item"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="initial", reviews__isnull=True)
                | models.Q(kind="review", reviews__isnull=False),
                name="assessment_review_links_initial",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of item #{self.item_id}: {self.verdict}"


class MediaAssessmentQuerySet(models.QuerySet["MediaAssessment"]):
    def final(self) -> MediaAssessmentQuerySet:
        """The rows of final assessments: what is sent and counted for each file."""
        return self.filter(assessment__is_final=True)


class MediaAssessment(models.Model):
    """One captured image or video as judged within one assessment (the network classifies per file).

    The item's verdict follows from its rows (``derivation.item_verdict``); site type, commerciality
    and payment method stay on the ``Assessment``. ``inherited`` rows come from known content.
    """

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="media_assessments")
    media = models.ForeignKey("evidence.Media", on_delete=models.CASCADE, related_name="assessments")
    inherited = models.BooleanField(default=False)
    inherited_from = models.CharField(max_length=300, blank=True)
    verdict = models.CharField(_("verdict"), max_length=20, choices=Verdict.choices)
    legal_limb = models.CharField(_("legal limb"), max_length=24, choices=LegalLimb.choices, blank=True)
    content_type = models.CharField(_("content"), max_length=10, choices=ContentType.choices, blank=True)
    age_group = models.CharField(_("apparent age group"), max_length=16, choices=AgeGroup.choices, blank=True)
    gender = models.CharField(_("gender"), max_length=16, choices=Gender.choices, blank=True)
    is_virtual = models.BooleanField(_("virtual (computer-generated or AI)"), default=False)
    is_manipulated = models.BooleanField(_("digitally manipulated"), default=False)
    is_self_generated = models.BooleanField(_("self-generated"), default=False)
    is_child_modelling = models.BooleanField(_("child modelling"), default=False)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)
    # CyberTipline file annotations (codes.FILE_ANNOTATIONS).
    ann_generative_ai = models.BooleanField(_("generative AI"), default=False)
    ann_self_production = models.BooleanField(_("self-production"), default=False)
    ann_viral = models.BooleanField(_("viral / meme"), default=False)
    ann_live_streaming = models.BooleanField(_("live streaming"), default=False)

    objects: ClassVar[MediaAssessmentQuerySet] = MediaAssessmentQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assessment", "media"], name="media_assessment_unique"),
        ]

    def __str__(self) -> str:
        return f"media {self.media_id} in assessment {self.assessment_id}: {self.verdict}"


# --- reports without a URL (sextortion, grooming, solicitation): the support queue ------------------


class Urgency(models.IntegerChoices):
    NORMAL = 0, _("Normal")
    HIGH = 1, _("High")
    URGENT = 2, _("Urgent: happening now")


class IncidentStatus(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    REFERRED = "referred", _("Referred to the police")
    CLOSED = "closed", _("Closed")


# The only status changes an incident has; each names the time stamp it sets (lib/states.move).
INCIDENT_TRANSITIONS: dict[tuple[str, str], str | None] = {
    (IncidentStatus.NEW, IncidentStatus.IN_PROGRESS): "taken_at",
    (IncidentStatus.NEW, IncidentStatus.REFERRED): "referred_at",
    (IncidentStatus.IN_PROGRESS, IncidentStatus.REFERRED): "referred_at",
    (IncidentStatus.NEW, IncidentStatus.CLOSED): "closed_at",
    (IncidentStatus.IN_PROGRESS, IncidentStatus.CLOSED): "closed_at",
    (IncidentStatus.REFERRED, IncidentStatus.CLOSED): "closed_at",
    (IncidentStatus.CLOSED, IncidentStatus.IN_PROGRESS): "reopened_at",
}
OPEN_INCIDENT = frozenset({IncidentStatus.NEW, IncidentStatus.IN_PROGRESS, IncidentStatus.REFERRED})


class IncidentQuerySet(models.QuerySet["Incident"]):
    def waiting(self) -> IncidentQuerySet:
        """The support queue: open incidents, most urgent first, then oldest first."""
        return self.filter(status__in=OPEN_INCIDENT).order_by("-urgency", "received_at", "pk")


class Incident(models.Model):
    """What a report without a URL tells (``Report.kind`` sextortion, grooming or solicitation).

    Everything that can name a person is encrypted at rest; the codes, times and annotations stay
    readable for the queue and the statistics. The reporter's contact stays on ``Report.reporter_contact``.
    """

    report = models.OneToOneField("reports.Report", on_delete=models.PROTECT, related_name="incident")
    received_at = models.DateTimeField(_("received at"))
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Urgency.choices, default=Urgency.NORMAL)
    status = models.CharField(_("status"), max_length=16, choices=IncidentStatus.choices,
                              default=IncidentStatus.NEW)
    description = EncryptedTextField(_("what happened"), blank=True)
    platform = models.CharField(_("platform or app"), max_length=200, blank=True)
    accounts = EncryptedTextField(_("account names"), blank=True)
    happened_when = models.CharField(_("when"), max_length=100, blank=True)
    ongoing = models.BooleanField(_("still happening"), default=False)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    police_reference = models.CharField(_("police reference"), max_length=100, blank=True)
    staff_notes = EncryptedTextField(_("staff notes"), blank=True)
    status_changed_at = models.DateTimeField()
    taken_at = models.DateTimeField(null=True, blank=True)
    referred_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)
    # CyberTipline report annotations (codes.REPORT_ANNOTATIONS), set by staff.
    ann_sextortion = models.BooleanField(_("sextortion"), default=False)
    ann_solicitation = models.BooleanField(_("solicitation"), default=False)
    ann_minor_to_minor = models.BooleanField(_("minor to minor"), default=False)

    objects: ClassVar[IncidentQuerySet] = IncidentQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            # The support queue: waiting().
            models.Index(fields=["status", "-urgency", "received_at"], name="incident_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"incident #{self.pk} ({self.report_id})"


class IncidentScreenshot(models.Model):
    """A screenshot the reporter attached: evidence, in the encrypted blob store like captured media.

    ``blob`` is cleared when retention destroys it; the hash and size stay as the record of what was held.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="screenshots")
    blob = models.ForeignKey("evidence.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    mime = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "position"], name="incident_screenshot_position"),
        ]

    def __str__(self) -> str:
        return f"screenshot {self.position} of incident {self.incident_id}"
