"""An analyst's assessment of an item, and the second analyst's review of it."""

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

    objects: ClassVar[MediaAssessmentQuerySet] = MediaAssessmentQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assessment", "media"], name="media_assessment_unique"),
        ]

    def __str__(self) -> str:
        return f"media {self.media_id} in assessment {self.assessment_id}: {self.verdict}"
