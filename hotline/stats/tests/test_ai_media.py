"""AI-generated illegal files per month: what the analysts marked virtual, and how many metadata had flagged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Reason, Verdict
from hotline.assessment.services import AssessmentData, MediaData, assess_item, claim_item, review_item
from hotline.evidence.models import Media
from hotline.reports.models import Item
from hotline.stats import services
from hotline.stats.facts import refresh_items
from hotline.stats.filters import Filters

pytestmark = pytest.mark.django_db


def _illegal(media: Media, *, is_virtual: bool = False, is_manipulated: bool = False) -> MediaData:
    # Virtual material is illegal under national law only (the "non-existent minor" limb); baseline is a real child.
    verdict, limb = ((Verdict.NATIONAL, LegalLimb.NON_EXISTENT_MINOR) if is_virtual
                     else (Verdict.BASELINE, LegalLimb.REAL_MINOR))
    return MediaData(media.pk, verdict, legal_limb=limb, content_type=ContentType.IMAGE,
                     age_group=AgeGroup.PREPUBESCENT, is_virtual=is_virtual, is_manipulated=is_manipulated)


def test_it_counts_virtual_illegal_files_and_those_metadata_flagged(
    make_item: Callable[..., Item], make_media: Any, analyst: User, senior: User
) -> None:
    item, other = make_item(), make_item()
    hinted, plain, manipulated, legal = (make_media(item, seed=s) for s in (1, 2, 3, 4))
    Media.objects.filter(pk=hinted.pk).update(ai_hint=True, provenance={"ai": True, "sources": []})
    again = make_media(other, seed=1)  # the same file (same SHA-256) on another item: counted once
    Media.objects.filter(pk=again.pk).update(ai_hint=True)
    for page, rows in ((item, (_illegal(hinted, is_virtual=True), _illegal(plain, is_virtual=True),
                               _illegal(manipulated, is_manipulated=True),
                               MediaData(legal.pk, Verdict.NOT_ILLEGAL, reason=Reason.ADULT_PORNOGRAPHY))),
                       (other, (_illegal(again, is_virtual=True),))):
        data = AssessmentData(verdict="", site_type="image_host", media=rows)
        claim_item(page, user=analyst)
        assess_item(page, data, user=analyst)
        claim_item(page, user=senior)
        review_item(page, data, user=senior)  # four eyes: the second decision is the final one
    now = timezone.now()
    refresh_items([item.pk, other.pk], now=now)
    month = f"{now.year:04d}-{now.month:02d}"
    (table,) = services.tables(Filters(first=date(now.year, now.month, 1), last=now.date()), now=now,
                               names=["ai_media"])
    (row,) = [r for r in table.rows if r["month"] == month]
    assert (row["illegal_media"], row["virtual"], row["manipulated"], row["from_metadata"]) == (3, 2, 1, 1)
    assert row["virtual_share"] == 2 / 3
