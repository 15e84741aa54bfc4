from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Reason, Verdict
from hotline.assessment.models import Assessment
from hotline.assessment.services import (
    AssessmentData,
    AssessmentInvalid,
    WorkflowError,
    assess_item,
    claim_item,
    needs_review,
    next_item,
    release_item,
    request_review,
    review_item,
    validate,
)
from hotline.assessment.steps import expire_claims_step
from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.reports.models import Item, ItemStatus, Source

pytestmark = pytest.mark.django_db

CLEAR = AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                       content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT)
BORDERLINE = AssessmentData(verdict=Verdict.NATIONAL, legal_limb=LegalLimb.LOOKS_LIKE_MINOR,
                            content_type=ContentType.IMAGE, age_group=AgeGroup.PUBESCENT)
NOT_ILLEGAL = AssessmentData(verdict=Verdict.NOT_ILLEGAL, reason=Reason.ADULT_PORNOGRAPHY)
MakeItem = Callable[..., Item]


def test_a_claim_is_exclusive_until_it_expires(make_item: MakeItem, analyst: User, analyst2: User) -> None:
    item = make_item()
    now = timezone.now()
    claim_item(item, user=analyst, now=now)
    with pytest.raises(WorkflowError, match="claimed by someone else"):
        claim_item(item, user=analyst2, now=now + timedelta(minutes=5))
    claim_item(item, user=analyst2, now=now + timedelta(minutes=31))
    item.refresh_from_db()
    assert item.claimed_by == analyst2


def test_a_clear_verdict_is_final_at_once(make_item: MakeItem, analyst: User) -> None:
    item = make_item()
    claim_item(item, user=analyst)
    assessment = assess_item(item, CLEAR, user=analyst)
    item.refresh_from_db()
    assert (item.status, item.verdict, item.claimed_by_id) == (ItemStatus.ASSESSED, "baseline", None)
    assert assessment.is_final and item.assessed_at is not None
    event = AuditEvent.objects.get(action="item.assessed")
    assert event.after is not None
    assert event.before == {"status": "captured", "verdict": ""}
    assert event.after["assessment"]["legal_limb"] == "real_minor"


def test_assessing_needs_a_live_claim(make_item: MakeItem, analyst: User) -> None:
    item = make_item()
    with pytest.raises(WorkflowError, match="claim the item first"):
        assess_item(item, CLEAR, user=analyst)
    now = timezone.now()
    claim_item(item, user=analyst, now=now - timedelta(hours=2))
    with pytest.raises(WorkflowError, match="expired"):
        assess_item(item, CLEAR, user=analyst, now=now)


def test_a_borderline_verdict_goes_to_a_different_second_analyst(
    make_item: MakeItem, analyst: User, senior: User
) -> None:
    item = make_item()
    claim_item(item, user=analyst)
    first = assess_item(item, BORDERLINE, user=analyst)
    item.refresh_from_db()
    assert (item.status, item.verdict, first.is_final) == (ItemStatus.IN_REVIEW, "", False)
    with pytest.raises(WorkflowError):
        claim_item(item, user=analyst)  # an analyst without review rights cannot take it
    claim_item(item, user=senior)
    review = review_item(item, BORDERLINE, user=senior)
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "national")
    assert review.reviews == first and review.is_final and not review.disagrees


def test_the_first_analyst_cannot_review_their_own_assessment(make_item: MakeItem, senior: User) -> None:
    item = make_item()
    claim_item(item, user=senior)
    assess_item(item, BORDERLINE, user=senior)
    with pytest.raises(WorkflowError, match="different analyst"):
        claim_item(item, user=senior)
    assert next_item(senior) is None


def test_a_disagreeing_review_overrules_and_is_marked(make_item: MakeItem, analyst: User, senior: User) -> None:
    item = make_item()
    claim_item(item, user=analyst)
    assess_item(item, BORDERLINE, user=analyst)
    claim_item(item, user=senior)
    review_item(item, NOT_ILLEGAL, user=senior)
    item.refresh_from_db()
    assert item.verdict == "not_illegal"
    assert Assessment.objects.get(is_final=True).disagrees
    after = AuditEvent.objects.get(action="item.reviewed").after
    assert after is not None and after["disagrees"] is True


def test_a_colleague_can_send_an_assessed_item_back_for_review(
    make_item: MakeItem, analyst: User, analyst2: User, senior: User
) -> None:
    item = make_item()
    claim_item(item, user=analyst)
    assess_item(item, CLEAR, user=analyst)
    with pytest.raises(AssessmentInvalid):
        request_review(item, user=analyst2, reason="  ")
    request_review(item, user=analyst2, reason="age looks older to me")
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_REVIEW and item.review_requested_at is not None
    claimed = next_item(senior)
    assert claimed is not None and claimed.pk == item.pk
    review_item(item, BORDERLINE, user=senior)
    item.refresh_from_db()
    assert item.verdict == "national"
    assert Assessment.objects.filter(item=item, is_final=True).count() == 1


@pytest.mark.parametrize("data,field", [
    (AssessmentData(verdict=Verdict.BASELINE), "legal_limb"),
    (AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.LOOKS_LIKE_MINOR,
                    content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT), "legal_limb"),
    (AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                    content_type=ContentType.IMAGE, age_group=AgeGroup.PUBESCENT), "age_group"),
    (AssessmentData(verdict=Verdict.NOT_ILLEGAL), "reason"),
    (AssessmentData(verdict=Verdict.NOT_ILLEGAL, reason=Reason.SITE_DOWN), "reason"),
    (AssessmentData(verdict=Verdict.UNREACHABLE, reason=Reason.ADULT_PORNOGRAPHY), "reason"),
    (AssessmentData(verdict=Verdict.OTHER_HARM), "other_harm"),
    (AssessmentData(verdict="bogus"), "verdict"),
])
def test_impossible_combinations_are_refused_by_field(data: AssessmentData, field: str) -> None:
    assert field in validate(data)


def test_invalid_data_changes_nothing(make_item: MakeItem, analyst: User) -> None:
    item = make_item()
    claim_item(item, user=analyst)
    with pytest.raises(AssessmentInvalid) as error:
        assess_item(item, AssessmentData(verdict=Verdict.NOT_ILLEGAL), user=analyst)
    assert "reason" in error.value.errors
    item.refresh_from_db()
    assert item.status == ItemStatus.CAPTURED and Assessment.objects.count() == 0


def test_borderline_rules() -> None:
    assert not needs_review(CLEAR) and needs_review(BORDERLINE)
    assert needs_review(AssessmentData(verdict=Verdict.NOT_ILLEGAL, reason=Reason.AGE_UNCLEAR))
    assert needs_review(AssessmentData(verdict=Verdict.NOT_ILLEGAL, reason=Reason.ADULT_PORNOGRAPHY,
                                       second_opinion=True))


def test_next_item_follows_the_queue_and_skips_claimed(
    make_item: MakeItem, analyst: User, analyst2: User
) -> None:
    plain = make_item()
    partner = make_item(source=Source.PARTNER)
    first = next_item(analyst)
    second = next_item(analyst2)
    assert first is not None and second is not None
    assert (first.pk, second.pk) == (partner.pk, plain.pk)
    assert next_item(analyst2, exclude=[plain.pk]) is None


def test_release_and_expiry_free_the_item(make_item: MakeItem, analyst: User, analyst2: User) -> None:
    item = make_item()
    claim_item(item, user=analyst)
    with pytest.raises(WorkflowError):
        release_item(item, user=analyst2)
    release_item(item, user=analyst, skipped=True)
    assert Item.objects.get(pk=item.pk).claimed_by_id is None
    now = timezone.now()
    claim_item(item, user=analyst, now=now - timedelta(hours=1))
    assert expire_claims_step(now=now) is True
    assert Item.objects.get(pk=item.pk).claimed_by_id is None
    assert expire_claims_step(now=now) is False
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"item.skipped", "item.claim_expired", "item.claimed"} <= actions
    assert verify().ok


def test_roles_without_assessment_rights_cannot_assess(make_item: MakeItem, manager: User, police: User) -> None:
    item = make_item()
    for user in (manager, police):
        with pytest.raises(WorkflowError):
            claim_item(item, user=user)
