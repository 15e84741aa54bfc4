"""Recording the liveness results that move the life cycle: a batch together (``record_checks``), as
``record_check`` records each one, and one by one when the batch fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.reports.models import Item, ItemStatus
from hotline.takedown.checker import HIT, MISS, TRANSIENT, CheckResult
from hotline.takedown.models import Takedown, TakedownState
from hotline.takedown.services import checks
from hotline.takedown.services.checks import CheckOutcome, record_check, record_checks
from hotline.takedown.services.liveness import CHECK_LEASE, record_results
from hotline.takedown.tests.conftest import MakeTraced
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)
# (state, consecutive misses, the result): a first miss, the miss that confirms a removal (the item closed),
# a come-back after removal (the item re-opened), a transient error, a hit that ends a pending removal.
CASES = [
    (TakedownState.ONLINE, 0, CheckOutcome(MISS, "http_404")),
    (TakedownState.REMOVAL_PENDING, 2, CheckOutcome(MISS, "http_410")),
    (TakedownState.REMOVED, 0, CheckOutcome(HIT, "media_present")),
    (TakedownState.ONLINE, 0, CheckOutcome(TRANSIENT, "http_503")),
    (TakedownState.REMOVAL_PENDING, 1, CheckOutcome(HIT, "media_reembedded")),
]


@pytest.fixture
def make_takedowns(traced_item: MakeTraced, contact: AbuseContact) -> Callable[[datetime], list[Takedown]]:
    def make(now: datetime) -> list[Takedown]:
        made = []
        for state, misses, _result in CASES:
            item = traced_item(contact, due=now - 3 * 60 * MIN)
            if state == TakedownState.REMOVED:
                item.save(update_fields=item.transition(ItemStatus.CLOSED, now=now - 2 * 60 * MIN))
            made.append(Takedown.objects.create(
                item=item, state=state, state_changed_at=now - 60 * MIN, opened_at=now - 3 * 60 * MIN,
                reported_at=now - 3 * 60 * MIN, contact=contact, next_check_at=now, first_notice_at=now - 3 * 60 * MIN,
                consecutive_misses=misses, first_miss_at=now - 60 * MIN if misses else None,
                last_miss_at=now - 60 * MIN if misses else None,
                removed_at=now - 2 * 60 * MIN if state == TakedownState.REMOVED else None,
                removal_confirmed_at=now - 60 * MIN if state == TakedownState.REMOVED else None))
        return made

    return make


_FIELDS = ("state", "checks", "consecutive_misses", "last_check_at", "last_check_outcome", "next_check_at",
           "first_miss_at", "last_miss_at", "removed_at", "removal_confirmed_at", "reappeared_at", "reuploads",
           "next_notice_at")


def _what_was_written(takedowns: list[Takedown], since: int = 0) -> tuple[list[Any], list[Any]]:
    """Each takedown's and item's fields, and the audit events written after ``since`` (a seq), with ids as
    positions in ``takedowns``."""
    position = {str(t.item_id): n for n, t in enumerate(takedowns)}
    rows = []
    for takedown in takedowns:
        takedown.refresh_from_db()
        item = Item.objects.get(pk=takedown.item_id)
        rows.append(([getattr(takedown, name) for name in _FIELDS], item.status, item.closed_at, item.priority))
    events = [(e.actor_label, e.action, e.object_type, position.get(e.object_id), e.at, e.before, e.after)
              for e in AuditEvent.objects.filter(seq__gt=since).order_by("seq")]
    return rows, events


def test_it_records_a_batch_as_record_check_records_each_result(make_takedowns: Any) -> None:
    now = timezone.now()
    one_by_one = make_takedowns(now)
    mark = max(AuditEvent.objects.values_list("seq", flat=True), default=0)
    for takedown, (_state, _misses, result) in zip(one_by_one, CASES, strict=True):
        record_check(takedown.pk, result, now=now)
    expected = _what_was_written(one_by_one, mark)
    together = make_takedowns(now)
    since = max(AuditEvent.objects.values_list("seq", flat=True), default=0)
    record_checks([(t.pk, result) for t, (_s, _m, result) in zip(together, CASES, strict=True)], now=now)
    assert _what_was_written(together, since) == expected
    states = [row[0][0] for row in expected[0]]
    assert states == [TakedownState.REMOVAL_PENDING, TakedownState.REMOVED, TakedownState.REAPPEARED,
                      TakedownState.ONLINE, TakedownState.ONLINE]
    assert [e[1] for e in expected[1]] == ["takedown.miss", "takedown.miss", "takedown.removed", "item.closed",
                                           "takedown.reappeared", "item.reopened", "takedown.still_online"]


def test_the_batch_reads_its_takedowns_in_one_query_whatever_its_size(make_takedowns: Any) -> None:
    now = timezone.now()
    first, second = make_takedowns(now), make_takedowns(now)
    record_checks([(first[3].pk, CASES[3][2])], now=now)  # compiled once

    def reads(takedowns: list[Takedown]) -> int:
        with CaptureQueriesContext(connection) as ctx:
            record_checks([(t.pk, CheckOutcome(TRANSIENT, "timeout")) for t in takedowns], now=now + MIN)
        return sum('FROM "takedown_takedown"' in q["sql"] and q["sql"].startswith("SELECT")
                   for q in ctx.captured_queries)

    assert reads(first[:2]) == reads(second) == 1
    assert all(t.checks == 1 for t in Takedown.objects.filter(pk__in=[t.pk for t in second]))


def test_a_row_that_fails_loses_nothing_of_the_rest(make_takedowns: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = timezone.now()
    takedowns = make_takedowns(now)
    broken = takedowns[1].pk
    apply = checks._apply

    def failing(takedown: Takedown, result: CheckOutcome, at: datetime) -> None:
        if takedown.pk == broken:
            raise RuntimeError("broken row")
        apply(takedown, result, at)

    monkeypatch.setattr(checks, "_apply", failing)
    results = [(t, CheckResult(r.outcome, r.code)) for t, (_s, _m, r) in zip(takedowns, CASES, strict=True)]
    record_results(results, now=now)
    by_pk = {t.pk: t for t in Takedown.objects.all()}
    assert by_pk[broken].checks == 0 and by_pk[broken].next_check_at == now + CHECK_LEASE  # tried again later
    assert [by_pk[t.pk].checks for t in takedowns if t.pk != broken] == [1, 1, 1, 1]
    assert by_pk[takedowns[0].pk].state == TakedownState.REMOVAL_PENDING
    assert by_pk[takedowns[2].pk].state == TakedownState.REAPPEARED
    assert not AuditEvent.objects.filter(action="takedown.removed").exists()  # the broken row's removal
    assert AuditEvent.objects.filter(action="takedown.miss").count() == 1
    assert verify().ok
