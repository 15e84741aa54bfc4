"""Assessment vocabulary (DOMAIN.md §3): stored codes with English labels, translated in the UI."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from hotline.reports.verdicts import ILLEGAL_VERDICTS, Verdict

__all__ = ["ILLEGAL_VERDICTS", "Verdict"]  # and every code list below; the verdicts live in reports


class LegalLimb(models.TextChoices):
    """Belgian Criminal Code, arts. 417/43-417/48: the three ways material can be illegal."""

    REAL_MINOR = "real_minor", _("Real minor")
    LOOKS_LIKE_MINOR = "looks_like_minor", _("Person who looks like a minor")
    NON_EXISTENT_MINOR = "non_existent_minor", _("Realistic images of a non-existent minor")


class ContentType(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    TEXT = "text", _("Text")
    DRAWING = "drawing", _("Drawing / animation")


class AgeGroup(models.TextChoices):
    INFANT = "infant_toddler", _("Infant / toddler")
    PREPUBESCENT = "prepubescent", _("Prepubescent")
    PUBESCENT = "pubescent", _("Pubescent")
    NOT_DETERMINED = "not_determined", _("Not determined")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    BOTH = "both", _("Both")
    NOT_DETERMINED = "not_determined", _("Not determined")


class SiteType(models.TextChoices):
    WEBSITE = "website", _("Website")
    WEBPAGE = "webpage", _("Webpage")
    IMAGE_HOST = "image_host", _("Image host")
    IMAGE_STORE = "image_store", _("Image store")
    IMAGE_BOARD = "image_board", _("Image board")
    FILE_HOST = "file_host", _("File host")
    FORUM = "forum", _("Forum")
    BANNER_SITE = "banner_site", _("Banner site")
    LINK_SITE = "link_site", _("Link site")
    SOCIAL_NETWORK = "social_network", _("Social network")
    BLOG = "blog", _("Blog")
    REDIRECTOR = "redirector", _("Redirector")
    WEB_ARCHIVE = "web_archive", _("Web archive")
    SEARCH_PROVIDER = "search_provider", _("Search provider")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


class Commerciality(models.TextChoices):
    COMMERCIAL = "commercial", _("Commercial")
    NON_COMMERCIAL = "non_commercial", _("Non-commercial")
    NOT_DETERMINED = "not_determined", _("Not determined")


class Reason(models.TextChoices):
    """Why an item is not illegal or could not be assessed."""

    CONTENT_NOT_FOUND = "content_not_found", _("Content not found")
    UNABLE_TO_ACCESS = "unable_to_access", _("Unable to access")
    PASSWORD_PROTECTED = "password_protected", _("Password protected")
    ACCOUNT_DISABLED = "account_disabled", _("Account disabled")
    LINK_EXPIRED = "link_expired", _("Link expired")
    SITE_DOWN = "site_down", _("404 / site down")
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable", _("Temporarily unavailable (503)")
    PREMIUM_ACCOUNT = "premium_account", _("Premium account needed")
    REMOVED_BEFORE_ASSESSMENT = "removed_before_assessment", _("Removed before assessment")
    ADULT_PORNOGRAPHY = "adult_pornography", _("Adult pornography")
    NUDISM = "nudism", _("Nudism / not sexualised")
    BELOW_THRESHOLD = "below_threshold", _("Below illegality threshold")
    IMAGES_TOO_SMALL = "images_too_small", _("Images too small")
    VIRTUAL_MATERIAL = "virtual_material", _("Virtual material (not illegal here)")
    LINKING = "linking", _("Linking / link lists")
    AGE_UNCLEAR = "age_unclear", _("Age unclear")
    AGE_OVER_THRESHOLD = "age_over_threshold", _("Age over national threshold")
    OTHER = "other", _("Other")


UNAVAILABLE_REASONS = frozenset({
    Reason.CONTENT_NOT_FOUND, Reason.UNABLE_TO_ACCESS, Reason.PASSWORD_PROTECTED,
    Reason.ACCOUNT_DISABLED, Reason.LINK_EXPIRED, Reason.SITE_DOWN,
    Reason.TEMPORARILY_UNAVAILABLE, Reason.PREMIUM_ACCOUNT, Reason.REMOVED_BEFORE_ASSESSMENT,
})

# Reasons that mean "an analyst hesitated": they go to a second analyst.
BORDERLINE_REASONS = frozenset({
    Reason.AGE_UNCLEAR, Reason.BELOW_THRESHOLD, Reason.VIRTUAL_MATERIAL, Reason.AGE_OVER_THRESHOLD,
})


class OtherHarm(models.TextChoices):
    GROOMING = "grooming", _("Grooming")
    SEXTORTION = "sextortion", _("Sextortion")
    OTHER = "other", _("Other harm")


# Annotations as the US clearing house's CyberTipline defines them (NCMEC reporting API, "annotations"):
# report annotations describe the incident, file annotations describe one image or video. Each is a
# boolean column ``ann_<code>`` on the rows that carry it; exchanges and referrals list the codes set.
REPORT_ANNOTATIONS: dict[str, Promise] = {
    "sextortion": _("Sextortion"),
    "solicitation": _("Solicitation"),
    "minor_to_minor": _("Minor to minor"),
}
FILE_ANNOTATIONS: dict[str, Promise] = {
    "generative_ai": _("Generative AI"),
    "self_production": _("Self-production"),
    "viral": _("Viral / meme"),
    "live_streaming": _("Live streaming"),
}
ANNOTATION_SCHEME = "cybertipline"


def annotation_field(code: str) -> str:
    return f"ann_{code}"


def annotations_of(row: object, codes: Iterable[str]) -> list[str]:
    """The codes among ``codes`` whose ``ann_<code>`` flag is set on ``row``, in the list's order."""
    return [code for code in codes if getattr(row, annotation_field(code), False)]
