"""What the scripted analysts decide: one set of labels per fate of a simulated site (labels on generated data),
shared by our simulated analyst and installation B's."""

from __future__ import annotations

from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Reason, SiteType, Verdict
from hotline.assessment.services import AssessmentData

SCRIPTED: dict[str, AssessmentData] = {
    "baseline": AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                               content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT,
                               site_type=SiteType.IMAGE_HOST),
    "not_illegal": AssessmentData(verdict=Verdict.NOT_ILLEGAL, reason=Reason.ADULT_PORNOGRAPHY,
                                  site_type=SiteType.WEBSITE),
    "gone": AssessmentData(verdict=Verdict.UNREACHABLE, reason=Reason.SITE_DOWN),
}
SCRIPTED["known"] = SCRIPTED["baseline"]  # known content an analyst sees anyway (inheritance switched off)
