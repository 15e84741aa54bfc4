"""How an audit write reaches the database: round trips, the stream head it takes, the order of its ids."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from hotline.audit.models import AuditEvent, AuditHead
from hotline.audit.services import (
    _INSERT_MAX,
    SYSTEM,
    Actor,
    Change,
    _claim,
    _create_heads,
    record,
    record_bulk,
    record_many,
    verify,
)
from hotline.audit.tests.writers import run_writers

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks and sequences")


def _changes(n: int, **after: object) -> list[Change]:
    return [Change("thing.changed", ("demo.thing", i), before={"n": i}, after={"n": i + 1, **after}) for i in range(n)]


def _seqs_by_stream() -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for stream, seq in AuditEvent.objects.order_by("stream", "position").values_list("stream", "seq"):
        out[stream].append(seq)
    return out


@postgres_only
@pytest.mark.parametrize("events", [1, 3, 60])
def test_it_writes_events_in_two_statements_on_postgresql(events: int) -> None:
    _create_heads()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        record_many(SYSTEM, _changes(events))
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 2, statements  # was 4: lock the head, take ids, COPY, move the head
    assert "FOR UPDATE SKIP LOCKED" in statements[0] and "nextval" in statements[0]
    assert "INSERT INTO audit_auditevent" in statements[1] and "UPDATE audit_audithead" in statements[1]
    assert verify().ok and AuditHead.objects.get(pk=1).position == events


@postgres_only
def test_it_streams_a_larger_batch_with_copy() -> None:
    _create_heads()
    odd = "tab\there, back\\slash, 'quoted', \u00e9 \U0001f600 \x01"
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert record_bulk(SYSTEM, _changes(_INSERT_MAX + 1, note=odd)) == _INSERT_MAX + 1
    assert any(q["sql"].startswith("COPY audit_auditevent") for q in queries.captured_queries)
    with transaction.atomic():
        record_many(SYSTEM, [*_changes(2, note=odd), Change("thing.odd", ("demo.thing", odd))])  # by INSERT
    result = verify()
    assert result.ok and result.checked == _INSERT_MAX + 4
    assert AuditEvent.objects.get(action="thing.odd").object_id == odd
    assert [e.after for e in AuditEvent.objects.order_by("seq")][-4:] == [
        {"n": _INSERT_MAX + 1, "note": odd}, {"n": 1, "note": odd}, {"n": 2, "note": odd}, None]


def test_the_returned_events_are_the_rows_written() -> None:
    with transaction.atomic():
        written = record_many(Actor("user:ana", 7), [*_changes(2), Change("thing.seen", ("demo.thing", 9))])
    stored = list(AuditEvent.objects.order_by("seq"))
    fields = [f.attname for f in AuditEvent._meta.concrete_fields]
    assert [[getattr(e, f) for f in fields] for e in written] == [[getattr(e, f) for f in fields] for e in stored]
    assert not any(e._state.adding for e in written)
    # no before or after is SQL NULL, as COPY writes it (not JSON null)
    assert AuditEvent.objects.filter(action="thing.seen", before__isnull=True, after__isnull=True).count() == 1


def test_it_creates_the_stream_heads_when_there_are_none() -> None:
    AuditHead.objects.all().delete()
    with transaction.atomic():
        event = record(SYSTEM, "thing.changed", ("demo.thing", 1))
    assert event.stream == 1 and event.position == 1 and AuditHead.objects.count() >= 1
    assert verify().ok


@postgres_only
def test_claiming_takes_no_ids_when_every_head_is_locked() -> None:
    """The ids are taken per locked head row: none when no head could be locked (the order argued at _CLAIM)."""
    _create_heads()
    locked, release = threading.Event(), threading.Event()

    def hold_every_head() -> None:
        try:
            with transaction.atomic():
                list(AuditHead.objects.select_for_update())
                locked.set()
                release.wait()
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_every_head)
    holder.start()
    try:
        locked.wait()
        with transaction.atomic():
            before = _next_id()
            assert _claim(3) is None
            assert _next_id() == before + 1  # only the probe's own nextval
    finally:
        release.set()
        holder.join()


def _next_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id'))")
        return int(cursor.fetchone()[0])


@postgres_only
def test_a_writer_waits_for_a_head_when_every_head_is_locked(settings: Any) -> None:
    settings.HOTLINE_AUDIT_STREAMS = 2
    _create_heads()
    with transaction.atomic():
        record_many(SYSTEM, _changes(2))
    locked, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_every_head_until_the_writer_waits() -> None:
        try:
            with transaction.atomic():
                list(AuditHead.objects.select_for_update())
                locked.set()
                while not _someone_waits_for_a_lock():
                    done.wait(0.01)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_every_head_until_the_writer_waits)
    holder.start()
    locked.wait()
    try:
        with transaction.atomic():
            event = record(Actor("user:ana", 7), "thing.changed", ("demo.thing", 5))
    finally:
        done.set()
        holder.join()
    assert not errors
    assert event.position == (3 if event.stream == 1 else 1)
    assert all(seqs == sorted(seqs) for seqs in _seqs_by_stream().values())
    assert verify().ok


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
                       "current_database()")
        return int(cursor.fetchone()[0]) > 0


@postgres_only
def test_seq_increases_along_every_stream_under_concurrent_writers(settings: Any) -> None:
    settings.HOTLINE_AUDIT_STREAMS = 2
    writers, rounds = 6, 25  # more writers than streams: heads change hands all the time
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        start.wait()
        for r in range(rounds):
            with transaction.atomic():
                record_many(Actor(f"api:w{n}"), _changes(1 + r % 3, w=n, r=r))

    run_writers(write, writers)
    by_stream = _seqs_by_stream()
    assert set(by_stream) <= {1, 2}
    for seqs in by_stream.values():
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    result = verify()
    assert result.ok and result.checked == sum(writers * (1 + r % 3) for r in range(rounds))
