"""The one claim helper: due rows are taken once, by one worker, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from hotline.lib import prepared
from hotline.lib.claim import claim_due, claim_one, run_in_threads, skip_locked
from hotline.reports.models import Item
from hotline.tracing.models import TraceDue

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
MakeItem = Callable[..., Item]


def _due_rows(make_item: MakeItem, count: int) -> list[TraceDue]:
    return [TraceDue.objects.create(item=make_item(), due_at=NOW - timedelta(minutes=n), created_at=NOW)
            for n in range(count)]


def _claim(limit: int) -> list[TraceDue]:
    return claim_due(TraceDue.objects.due(NOW), limit=limit, update={"due_at": NOW + LEASE}, match=("due_at",))


def test_it_claims_up_to_the_limit_in_order_and_writes_the_lease(make_item: MakeItem) -> None:
    rows = _due_rows(make_item, 5)
    claimed = _claim(3)
    assert [r.pk for r in claimed] == [r.pk for r in sorted(rows, key=lambda r: r.due_at)][:3]
    assert all(r.due_at < NOW for r in claimed)  # the rows as read, before the lease
    assert TraceDue.objects.filter(due_at=NOW + LEASE).count() == 3


def test_it_gives_a_second_claimer_only_the_rest(make_item: MakeItem) -> None:
    _due_rows(make_item, 5)
    first, second, third = _claim(3), _claim(3), _claim(3)
    assert len(first) == 3 and len(second) == 2 and third == []
    assert not {r.pk for r in first} & {r.pk for r in second}


def test_it_claims_nothing_for_a_limit_of_zero(make_item: MakeItem) -> None:
    _due_rows(make_item, 2)
    assert _claim(0) == []
    assert not TraceDue.objects.filter(due_at=NOW + LEASE).exists()


def test_it_claims_one_row_or_none(make_item: MakeItem) -> None:
    rows = _due_rows(make_item, 2)
    oldest = min(rows, key=lambda r: r.due_at)
    update = {"due_at": NOW + LEASE}
    assert claim_one(TraceDue.objects.due(NOW), update=update, match=("due_at",)) == oldest
    assert claim_one(TraceDue.objects.due(NOW), update=update, match=("due_at",)) is not None
    assert claim_one(TraceDue.objects.due(NOW), update=update, match=("due_at",)) is None


def test_it_leaves_a_row_whose_values_changed_since_it_was_read(make_item: MakeItem) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL locks the rows it reads; the conditional UPDATE is the other databases' path")
    row = _due_rows(make_item, 1)[0]
    stale = TraceDue.objects.filter(pk=row.pk)
    assert claim_due(stale, limit=1, update={"attempts": 5}, where={"attempts": 1}) == []
    assert TraceDue.objects.get(pk=row.pk).attempts == 0


def test_it_binds_each_rows_own_values_to_the_update_compiled_once(make_item: MakeItem) -> None:
    """The conditional UPDATE (SQLite) or the batch's (PostgreSQL) is compiled once and bound per call: rows read
    with other values (a due time, a count of attempts) are claimed by the same SQL, each matched on its own."""
    prepared._COMPILED.clear()
    rows = _due_rows(make_item, 4)
    TraceDue.objects.filter(pk=rows[1].pk).update(attempts=3)
    update = {"due_at": NOW + LEASE, "attempts": F("attempts") + 1}
    first = claim_due(TraceDue.objects.due(NOW), limit=2, update=update, match=("due_at", "attempts"))
    compiled = set(prepared._COMPILED)
    second = claim_due(TraceDue.objects.due(NOW), limit=2, update=update, match=("due_at", "attempts"))
    assert set(prepared._COMPILED) == compiled and len(compiled) == 1
    assert sorted(r.pk for r in first + second) == sorted(r.pk for r in rows)
    assert sorted(TraceDue.objects.values_list("attempts", flat=True)) == [1, 1, 1, 4]
    assert set(TraceDue.objects.values_list("due_at", flat=True)) == {NOW + LEASE}


def test_it_joins_the_callers_transaction_without_a_savepoint(make_item: MakeItem) -> None:
    _due_rows(make_item, 2)
    _claim(1)  # compiles
    with transaction.atomic(), CaptureQueriesContext(connection) as context:
        assert len(_claim(1)) == 1
    statements = [q["sql"].lstrip().upper() for q in context.captured_queries]
    assert not [sql for sql in statements if "SAVEPOINT" in sql], statements


def test_an_expression_written_is_part_of_the_key_the_sql_is_kept_under(make_item: MakeItem) -> None:
    """An expression (its constants baked into the SQL) shapes the SQL: another expression gets its own."""
    prepared._COMPILED.clear()
    first, second = _due_rows(make_item, 2)
    for lease in (LEASE, 2 * LEASE):
        claim_due(TraceDue.objects.due(NOW), limit=1, update={"due_at": F("due_at") + lease}, match=("due_at",))
    assert len(prepared._COMPILED) == 2
    assert TraceDue.objects.get(pk=second.pk).due_at == second.due_at + LEASE  # the older row, claimed first
    assert TraceDue.objects.get(pk=first.pk).due_at == first.due_at + 2 * LEASE


def test_it_returns_the_queryset_unchanged_outside_postgresql(make_item: MakeItem) -> None:
    query = TraceDue.objects.due(NOW)
    locked = skip_locked(query)
    assert locked.query.select_for_update == (connection.vendor == "postgresql")
    if connection.vendor == "postgresql":
        assert locked.query.select_for_update_skip_locked


@pytest.mark.django_db(transaction=True)
def test_it_never_gives_two_concurrent_claimers_the_same_row(make_item: MakeItem) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers with IMMEDIATE transactions; SKIP LOCKED is PostgreSQL's")
    rows = _due_rows(make_item, 10)
    holding, release = threading.Event(), threading.Event()
    results: dict[str, list[int]] = {}

    def first() -> None:
        try:
            with transaction.atomic():  # the lock stays held until the other claimer is done
                results["first"] = [r.pk for r in _claim(5)]
                holding.set()
                release.wait(10)
        finally:
            close_old_connections()
            connection.close()

    def second() -> None:
        try:
            holding.wait(10)
            results["second"] = [r.pk for r in _claim(10)]
        finally:
            release.set()
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(results["first"]) == 5 and len(results["second"]) == 5
    assert sorted(results["first"] + results["second"]) == sorted(r.pk for r in rows)


@pytest.mark.django_db(transaction=True)
def test_it_shares_the_rows_among_many_claimers_without_overlap(make_item: MakeItem) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL test; SQLite's are covered by the conditional UPDATE")
    rows = _due_rows(make_item, 24)
    taken: list[int] = []
    lock = threading.Lock()

    def claimer() -> None:
        try:
            while batch := _claim(3):
                with lock:
                    taken.extend(r.pk for r in batch)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(taken) == sorted(r.pk for r in rows)


def test_it_runs_every_item_and_logs_a_failing_one(caplog: pytest.LogCaptureFixture) -> None:
    done: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        if n == 3:
            raise RuntimeError("boom")
        with lock:
            done.append(n)

    worker_log = logging.getLogger("hotline.test_claim")
    with caplog.at_level(logging.ERROR, logger="hotline.test_claim"):
        run_in_threads(work, range(6), workers=3, describe=lambda n: f"job {n}", logger=worker_log)
    assert sorted(done) == [0, 1, 2, 4, 5]
    assert [r.getMessage() for r in caplog.records if r.name == "hotline.test_claim"] == ["job 3 failed"]


def test_here_the_caller_takes_its_share_and_keeps_its_connection(caplog: pytest.LogCaptureFixture) -> None:
    """With ``here`` the calling thread is one of the workers: every item runs once, a failing one is logged,
    at most ``workers`` run at a time, only ``workers - 1`` threads are started, and the caller's database
    connection is left open (the threads close theirs)."""
    done: list[tuple[int, bool]] = []
    running, most = 0, 0
    lock = threading.Lock()
    caller = threading.get_ident()
    # The started threads wait for the caller's first item: on a loaded machine they could otherwise take every
    # item before the caller takes one. (The wait's bound only keeps a broken run_in_threads from hanging.)
    caller_took = threading.Event()

    def work(n: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if threading.get_ident() == caller:
            caller_took.set()
        else:
            caller_took.wait(timeout=60)
        try:
            if n == 4:
                raise RuntimeError("boom")
            Item.objects.exists()  # a query: opens the thread's connection
            with lock:
                done.append((n, threading.get_ident() == caller))
        finally:
            with lock:
                running -= 1

    Item.objects.exists()
    before = connection.connection
    threads_before = threading.active_count()
    worker_log = logging.getLogger("hotline.test_claim")
    with caplog.at_level(logging.ERROR, logger="hotline.test_claim"):
        run_in_threads(work, range(9), workers=3, describe=lambda n: f"job {n}", logger=worker_log, here=True)
    assert sorted(n for n, _ in done) == [0, 1, 2, 3, 5, 6, 7, 8]
    assert any(here for _, here in done)  # the caller took some
    assert most <= 3
    assert [r.getMessage() for r in caplog.records if r.name == "hotline.test_claim"] == ["job 4 failed"]
    assert connection.connection is before and before is not None  # the caller's connection is kept
    assert threading.active_count() == threads_before


def test_here_with_one_item_starts_no_thread() -> None:
    seen: list[int] = []
    run_in_threads(lambda n: seen.append(threading.get_ident()), [1], workers=8, describe=str, here=True)
    assert seen == [threading.get_ident()]
