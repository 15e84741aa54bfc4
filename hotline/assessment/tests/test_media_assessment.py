"""Per-media classification: each file gets its verdict, the item's verdict follows from them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps

from hotline.accounts.models import User
from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Reason, Verdict
from hotline.assessment.derivation import deciding, item_verdict
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.assessment.services import (
    AssessmentData,
    AssessmentInvalid,
    MediaData,
    assess_item,
    claim_item,
    review_item,
)
from hotline.assessment.steps import inherit_known_step
from hotline.audit.models import AuditEvent
from hotline.hashes.models import Entry
from hotline.reports.models import Item, ItemStatus
from hotline.sim.images import make_image

pytestmark = pytest.mark.django_db
MakeItem = Callable[..., Item]


def illegal(media_id: int, verdict: str = Verdict.BASELINE, **extra: Any) -> MediaData:
    return MediaData(media_id, verdict, legal_limb=LegalLimb.REAL_MINOR, content_type=ContentType.IMAGE,
                     age_group=AgeGroup.PREPUBESCENT, **extra)


def legal(media_id: int, reason: str = Reason.ADULT_PORNOGRAPHY) -> MediaData:
    return MediaData(media_id, Verdict.NOT_ILLEGAL, reason=reason)


def test_it_derives_the_most_severe_verdict() -> None:
    assert item_verdict(["not_illegal", "baseline", "national"]) == "baseline"
    assert item_verdict(["not_illegal", "not_illegal"]) == "not_illegal"
    assert item_verdict(["unreachable", "not_illegal"]) == "not_illegal"
    assert item_verdict(["other_harm", "national"]) == "national"
    assert item_verdict([]) == ""
    rows = [legal(1), illegal(2, Verdict.NATIONAL), illegal(3)]
    best = deciding(rows)
    assert best is not None and best.media_id == 3


def test_it_makes_a_mixed_page_illegal_and_keeps_each_files_verdict(
    make_item: MakeItem, make_media: Any, analyst: User
) -> None:
    item = make_item()
    bad, fine = make_media(item, seed=2), make_media(item, seed=5)
    claim_item(item, user=analyst)
    data = AssessmentData(verdict="", site_type="image_host", media=(illegal(bad.pk), legal(fine.pk)))
    assessment = assess_item(item, data, user=analyst)
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "baseline")
    assert (assessment.verdict, assessment.content_type, assessment.site_type) == ("baseline", "image", "image_host")
    rows = dict(MediaAssessment.objects.filter(assessment=assessment).values_list("media_id", "verdict"))
    assert rows == {bad.pk: "baseline", fine.pk: "not_illegal"}
    # Our bank learns each file with its own verdict.
    assert set(Entry.objects.filter(signal_type="sha256").values_list("value", "verdict")) == {
        (bad.sha256, "baseline"), (fine.sha256, "not_illegal")}
    event = AuditEvent.objects.get(action="item.assessed")
    assert event.after is not None and event.after["media"][str(fine.pk)]["reason"] == "adult_pornography"


def test_it_asks_for_every_file_and_puts_errors_on_the_files_fields(
    make_item: MakeItem, make_media: Any, analyst: User
) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    claim_item(item, user=analyst)
    with pytest.raises(AssessmentInvalid) as caught:
        assess_item(item, AssessmentData(verdict="", media=(MediaData(one.pk, Verdict.BASELINE),)), user=analyst)
    assert f"media-{two.pk}-verdict" in caught.value.errors
    assert caught.value.errors[f"media-{one.pk}-age_group"] == "required when the material is illegal"
    with pytest.raises(AssessmentInvalid) as caught:
        assess_item(item, AssessmentData(verdict="", media=(legal(one.pk, Reason.SITE_DOWN), legal(two.pk))),
                    user=analyst)
    assert "unavailable" in caught.value.errors[f"media-{one.pk}-reason"]
    assert Assessment.objects.count() == 0


def test_a_duplicate_file_follows_its_first_copy(make_item: MakeItem, make_media: Any, analyst: User) -> None:
    item = make_item()
    first = make_media(item, seed=2)
    same = make_image("png", 2, size=(320, 240))
    copy = make_media(item, seed=9, data=same)
    assert copy.sha256 == first.sha256
    claim_item(item, user=analyst)
    assessment = assess_item(item, AssessmentData(verdict="", media=(legal(first.pk),)), user=analyst)
    assert MediaAssessment.objects.filter(assessment=assessment, verdict="not_illegal").count() == 2


def test_a_borderline_file_sends_the_item_to_review_and_the_review_keeps_per_file_rows(
    make_item: MakeItem, make_media: Any, analyst: User, senior: User
) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    claim_item(item, user=analyst)
    assess_item(item, AssessmentData(verdict="", media=(illegal(one.pk), legal(two.pk, Reason.AGE_UNCLEAR))),
                user=analyst)
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.IN_REVIEW, "")
    claim_item(item, user=senior)
    review = review_item(item, AssessmentData(verdict="", media=(illegal(one.pk), illegal(two.pk, Verdict.NATIONAL,
                                                                                           is_virtual=False))),
                         user=senior)
    item.refresh_from_db()
    assert item.verdict == "baseline" and review.disagrees  # same item verdict, but one file changed
    assert review.media_assessments.get(media=two).verdict == "national"


def test_an_item_level_verdict_still_works_and_applies_to_every_file(
    make_item: MakeItem, make_media: Any, analyst: User
) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    claim_item(item, user=analyst)
    data = AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR, content_type=ContentType.IMAGE,
                          age_group=AgeGroup.PREPUBESCENT)
    assessment = assess_item(item, data, user=analyst)
    assert set(assessment.media_assessments.values_list("media_id", "verdict")) == {
        (one.pk, "baseline"), (two.pk, "baseline")}


def test_unreachable_stays_item_level(make_item: MakeItem, make_media: Any, analyst: User) -> None:
    item = make_item()
    make_media(item, seed=2)
    claim_item(item, user=analyst)
    assessment = assess_item(item, AssessmentData(verdict=Verdict.UNREACHABLE, reason=Reason.SITE_DOWN),
                             user=analyst)
    item.refresh_from_db()
    assert item.verdict == "unreachable" and not assessment.media_assessments.exists()


def test_known_files_inherit_their_verdict_per_file(
    make_item: MakeItem, make_media: Any, analyst: User, settings: Any
) -> None:
    settings.HOTLINE_AUTO_ASSESS_KNOWN = True
    item = make_item()
    known, new = make_media(item, seed=2), make_media(item, seed=5)
    known.inherited_verdict, known.inherited_from = "baseline", "Partner list (entry 7, sha256)"
    known.save()
    claim_item(item, user=analyst)
    assessment = assess_item(item, AssessmentData(verdict="", media=(legal(new.pk),)), user=analyst)
    row = assessment.media_assessments.get(media=known)
    assert (row.verdict, row.inherited, row.inherited_from) == ("baseline", True, "Partner list (entry 7, sha256)")
    item.refresh_from_db()
    assert item.verdict == "baseline"

    other = make_item()
    media = make_media(other, seed=4)
    media.inherited_verdict, media.inherited_from = "national", "Own (entry 1, sha256)"
    media.save()
    media.capture.known_verdict = "national"
    media.capture.save()
    assert inherit_known_step()
    inherited = Assessment.objects.get(item=other)
    assert list(inherited.media_assessments.values_list("media_id", "verdict", "inherited")) == [
        (media.pk, "national", True)]


def test_the_data_migration_turns_old_assessments_into_per_media_rows(
    make_item: MakeItem, make_media: Any, analyst: User
) -> None:
    item, bare = make_item(), make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    claim_item(item, user=analyst)
    assessment = assess_item(item, AssessmentData(
        verdict=Verdict.NATIONAL, legal_limb=LegalLimb.LOOKS_LIKE_MINOR, content_type=ContentType.IMAGE,
        age_group=AgeGroup.PUBESCENT), user=analyst)
    claim_item(bare, user=analyst)
    assess_item(bare, AssessmentData(verdict=Verdict.NOT_ILLEGAL, reason=Reason.NUDISM), user=analyst)
    MediaAssessment.objects.all().delete()  # as before the migration
    migration = importlib.import_module("hotline.assessment.migrations.0004_media_assessment_data")
    migration.forwards(apps, None)
    rows = MediaAssessment.objects.filter(assessment=assessment).order_by("media_id")
    assert [(r.media_id, r.verdict, r.legal_limb, r.age_group) for r in rows] == [
        (one.pk, "national", "looks_like_minor", "pubescent"), (two.pk, "national", "looks_like_minor", "pubescent")]
    assert MediaAssessment.objects.count() == 2  # the item without media keeps its item-level verdict only
