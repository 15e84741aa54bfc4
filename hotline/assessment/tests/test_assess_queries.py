"""The analyst's decision costs a bounded number of queries, whatever the number of files on the page
(issue 21, goal 3: the scripted analyst of ``hotline simulate`` and every decision on the workbench)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Verdict
from hotline.assessment.services import AssessmentData, MediaData, assess_item, claim_item, review_item
from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.evidence.models import Media
from hotline.hashes.models import Entry, EntryStatus
from hotline.reports.models import Item

pytestmark = pytest.mark.django_db
MakeItem = Callable[..., Item]
MakeMedia = Callable[..., Media]

CLEAR = AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                       content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT)
BORDERLINE = AssessmentData(verdict=Verdict.NATIONAL, legal_limb=LegalLimb.LOOKS_LIKE_MINOR,
                            content_type=ContentType.IMAGE, age_group=AgeGroup.PUBESCENT)
# claim_item + assess_item of a final verdict with files, counted inside the test's transaction (its savepoints
# included; a real run has BEGIN instead). Before this bound (main 3506dac): 33 on SQLite and on PostgreSQL,
# whatever the number of files: the newest capture and its files were read twice (deciding, the own bank), the own
# bank's get_or_create and add_from_assessment had savepoints of their own, the decision and the bank's entries were
# two audit appends, and SQLite's append read the stream head and the largest event id apart.
MOST = {"sqlite": 20, "postgresql": 22}


_SEEDS = iter(range(1, 10_000))  # a new image each time: the bank keeps one entry per hash


def _page(make_item: MakeItem, make_media: MakeMedia, files: int) -> Item:
    item = make_item()
    for _ in range(files):
        make_media(item, seed=next(_SEEDS))
    item.refresh_from_db()
    return item


def _decide(item: Item, data: AssessmentData, user: User) -> list[str]:
    now = timezone.now()
    with CaptureQueriesContext(connection) as context:
        claim_item(item, user=user, now=now)
        assess_item(item, data, user=user, now=now)
    return [query["sql"] for query in context.captured_queries]


def test_it_makes_as_many_queries_for_twice_the_files(
        make_item: MakeItem, make_media: MakeMedia, analyst: User) -> None:
    _decide(_page(make_item, make_media, 1), CLEAR, analyst)  # warm-up: the own bank made, queries compiled
    few, many = _page(make_item, make_media, 2), _page(make_item, make_media, 4)
    queries_few, queries_many = _decide(few, CLEAR, analyst), _decide(many, CLEAR, analyst)
    assert len(queries_many) == len(queries_few) <= MOST[connection.vendor], "\n".join(queries_many)
    assert Entry.objects.filter(source_item=many, status=EntryStatus.PENDING, signal_type="sha256").count() == 4
    events = AuditEvent.objects.filter(object_type="reports.item", object_id=str(many.pk)).order_by("seq")
    assert [e.action for e in events][-3:] == ["item.claimed", "item.assessed", "bank.entries_proposed"]
    assert events.last().after == {"bank": Entry.objects.filter(source_item=many).first().bank_id,  # type: ignore[union-attr]
                                   "entries": 8, "verdict": "baseline"}  # SHA-256 and MD5 of each file
    verify()


def test_a_review_makes_as_many_queries_for_twice_the_files(
        make_item: MakeItem, make_media: MakeMedia, analyst: User, senior: User) -> None:
    def reviewed(files: int) -> int:
        item = _page(make_item, make_media, files)
        _decide(item, BORDERLINE, analyst)
        media = Media.objects.filter(item=item).order_by("pk")
        per_file = tuple(MediaData(m.pk, Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                                   content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT) for m in media)
        now = timezone.now() + timedelta(minutes=1)
        claim_item(item, user=senior, now=now)
        with CaptureQueriesContext(connection) as context:
            review_item(item, AssessmentData(verdict=Verdict.BASELINE, media=per_file), user=senior, now=now)
        assert Entry.objects.filter(source_item=item, status=EntryStatus.ACTIVE, signal_type="sha256").count() == files
        return len(context.captured_queries)

    reviewed(1)  # warm-up
    assert reviewed(2) == reviewed(4)


def test_the_claim_and_the_decision_read_the_item_as_refresh_from_db_does(
        make_item: MakeItem, make_media: MakeMedia, analyst: User, senior: User) -> None:
    """The claim's read-back and the decision's re-read are compiled once: the caller's copy still gets the
    database's values and loses a cached relation that went stale."""
    item = _page(make_item, make_media, 1)
    stale = Item.objects.get(pk=item.pk)
    stale.claimed_by = senior  # a cached relation the claim must not leave in place
    now = timezone.now()
    claim_item(stale, user=analyst, now=now)
    assert stale.claimed_by == analyst and stale.claimed_by_id == analyst.pk
    fresh = Item.objects.get(pk=item.pk)
    assert (stale.status, stale.claim_expires_at) == (fresh.status, fresh.claim_expires_at)
    Item.objects.filter(pk=item.pk).update(priority=9)  # changed behind the caller's copy
    assess_item(stale, CLEAR, user=analyst, now=now)
    assert stale.priority == 9 and stale.claimed_by is None
    assert Item.objects.get(pk=item.pk).status == stale.status == "assessed"


def test_a_decision_writes_its_status_stamps_and_verdict_and_ends_the_claim(
        make_item: MakeItem, make_media: MakeMedia, analyst: User, senior: User) -> None:
    """The decision's UPDATE (compiled once per set of fields) writes what ``save(update_fields=…)`` wrote: the
    new status with its time stamps, the verdict when final, and no claim; the columns it does not name stay."""
    def stored(item: Item) -> tuple[object, ...]:
        row = Item.objects.get(pk=item.pk)
        return (row.status, row.status_changed_at, row.review_requested_at, row.assessed_at, row.verdict,
                row.claimed_by_id, row.claim_expires_at, row.priority)

    item = _page(make_item, make_media, 1)
    first = timezone.now().replace(microsecond=0)
    claim_item(item, user=analyst, now=first)
    Item.objects.filter(pk=item.pk).update(priority=7)
    assess_item(item, BORDERLINE, user=analyst, now=first)  # borderline: to review, no verdict yet
    assert stored(item) == ("in_review", first, first, None, "", None, None, 7)
    later = first + timedelta(minutes=5)
    claim_item(item, user=senior, now=later)
    review_item(item, CLEAR, user=senior, now=later)
    assert stored(item) == ("assessed", later, first, later, "baseline", None, None, 7)
    assert (item.status, item.verdict, item.claimed_by, item.claim_expires_at) == ("assessed", "baseline", None, None)
