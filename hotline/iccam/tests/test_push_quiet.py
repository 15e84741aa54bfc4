"""A push pass on an SQLite database nothing was written to since a pass that found nothing to queue skips the
finding query (``push._Quiet``); every fact is still pushed on the next pass, whoever writes it and however."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hotline.iccam.models import Content, Push, PushState
from hotline.iccam.steps import push_step
from hotline.iccam.tests.pushing import drain, pulled
from hotline.reports.models import Item
from hotline.sim.iccam import SimIccam

# Outside a transaction, as a worker runs (in a test's transaction the query runs on every pass).
pytestmark = pytest.mark.django_db(transaction=True)  # run last (hotline/conftest.py): the flush empties seeded rows
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's change counters")
FINDING = "SELECT 0 AS tag"  # push._found's statement


def _finding_queries(now: Any = None) -> int:
    """Whether one ``push_step`` ran the finding query (0 or 1)."""
    with CaptureQueriesContext(connection) as queries:
        push_step(now=now)
    return sum(q["sql"].startswith(FINDING) for q in queries.captured_queries)


def _assessed_and_idle(sim: SimIccam, facts: Any) -> Item:
    """A pulled item assessed and its assessment pushed, then two passes that find nothing: the mark is set."""
    _content, item = pulled(sim)
    facts.assess(item, "baseline")
    drain()
    push_step()
    push_step()
    return item


def _actions(sim: SimIccam) -> list[int]:
    return [w[2] for w in sim.writes if w[0] == "action"]


def _elsewhere(write: Callable[[], Any]) -> None:
    """``write`` in another thread, on its own connection, committed before this returns."""
    def run() -> None:
        try:
            write()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


@sqlite_only
def test_an_idle_pass_on_an_unchanged_database_asks_no_finding_query(iccam_on: SimIccam, facts: Any) -> None:
    _content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    drain()
    push_step()  # finds nothing: the mark
    assert _finding_queries() == 0
    assert _finding_queries() == 0
    facts.noticed(item)  # written on this connection: the next pass looks again and pushes it
    assert _finding_queries() == 1
    assert _actions(iccam_on) == [2]


def test_a_fact_written_between_two_idle_passes_is_pushed_on_the_next(iccam_on: SimIccam, facts: Any) -> None:
    item = _assessed_and_idle(iccam_on, facts)
    facts.referred(item)
    push_step()
    assert _actions(iccam_on) == [1]
    push_step()
    facts.noticed(item, removed=True)
    push_step()
    assert _actions(iccam_on) == [1, 2, 3]
    assert set(Push.objects.values_list("state", flat=True)) == {PushState.SENT}


def test_a_fact_another_connection_commits_is_pushed_on_the_next_pass(iccam_on: SimIccam, facts: Any) -> None:
    item = _assessed_and_idle(iccam_on, facts)
    _elsewhere(lambda: facts.noticed(item))  # another worker's connection: this one wrote nothing
    push_step()
    assert _actions(iccam_on) == [2]


def test_a_pass_that_sent_writes_keeps_its_mark_but_a_created_report_is_looked_at(
    iccam_on: SimIccam, facts: Any, make_item: Any
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's change counters")
    content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    now = timezone.now()
    iccam_on.throttle(1, retry_after=60)
    push_step(now=now)  # queues the assessment; ICCAM asks us to wait
    assert _finding_queries(now) == 1  # found nothing new: the mark
    day = timedelta(days=1)  # past the retry's back-off
    assert _finding_queries(now + day) == 0  # sends the assessment: what that wrote does not count
    assert Push.objects.get().state == PushState.SENT
    assert _finding_queries(now + day) == 0

    # A report queued in one pass and created in ICCAM in a later one: its content item is a new fact.
    national = make_item("http://site-9.sim.test/page")
    facts.assess(national, "baseline")
    facts.trace(national, "NL")
    facts.noticed(national)
    iccam_on.throttle(1, retry_after=60)
    later = now + 2 * day
    assert _finding_queries(later) == 1  # queues the report; ICCAM asks us to wait
    assert _finding_queries(later) == 1  # finds nothing new: the mark
    assert _finding_queries(later + day) == 0  # creates the report in ICCAM
    created = Content.objects.get(item=national)
    assert _finding_queries(later + day) == 1  # looks again: the new content item was noticed
    # (ICCAM assigned it to the hosting country, so it is refused there: what matters is that it was queued)
    assert list(Push.objects.filter(content=created).values_list("action_type", flat=True)) == [2]
    assert content.content_id != created.content_id


def test_in_a_transaction_every_pass_asks(iccam_on: SimIccam, facts: Any) -> None:
    _content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    drain()
    with transaction.atomic():
        assert [_finding_queries() for _ in range(3)] == [1, 1, 1]
