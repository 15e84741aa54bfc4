from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from hotline.audit import guard
from hotline.audit.models import GENESIS, AuditEvent, AuditHead, AuditSeal
from hotline.audit.services import (
    SYSTEM,
    Actor,
    Change,
    _append,
    _as_events,
    record,
    record_many,
    seal,
    timeline,
    verify,
)
from hotline.audit.steps import seal_step
from hotline.audit.tests.writers import run_writers

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = [1, 2]


def _events(n: int, *, stream: int | None = None) -> list[AuditEvent]:
    out = []
    for i in range(n):
        with transaction.atomic():
            change = Change("thing.changed", ("demo.thing", i % 3), before={"n": i}, after={"n": i + 1})
            out.extend(_as_events(_append(Actor("user:ana", 7), [change], stream=stream)))
    return out


def _both_streams(n: int) -> dict[int, list[AuditEvent]]:
    """Interleave writes to stream 1 and stream 2, so every check below runs on a non-first stream too."""
    out: dict[int, list[AuditEvent]] = {1: [], 2: []}
    for _ in range(n):
        for stream in STREAMS:
            out[stream].extend(_events(1, stream=stream))
    return out


def _drop_guard() -> None:
    guard.remove(connection)


def _messages() -> list[str]:
    return [p.message for p in verify().problems]


def test_it_chains_each_event_to_the_previous_one() -> None:
    events = _events(5)
    assert [e.position for e in events] == [1, 2, 3, 4, 5]
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    result = verify()
    assert result.ok and result.checked == 5 and result.streams == 1
    assert AuditHead.objects.get(pk=events[0].stream).hash == events[-1].hash


def test_each_stream_is_its_own_chain_and_seq_orders_them_all() -> None:
    streams = _both_streams(3)
    assert [e.position for e in streams[2]] == [1, 2, 3] and streams[2][0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(streams[2]))
    ordered = list(AuditEvent.objects.order_by("seq").values_list("stream", flat=True))
    assert ordered == [1, 2] * 3
    result = verify()
    assert result.ok and result.checked == 6 and result.streams == 2


def test_it_refuses_to_write_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record(SYSTEM, "x", ("demo.thing", 1))


def test_the_database_refuses_updates_and_deletes_of_events_and_seals() -> None:
    events = _events(2)
    seal()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=events[0].pk).update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=events[1].pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditSeal.objects.update(heads={})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditSeal.objects.all().delete()
    assert verify().ok


@pytest.mark.parametrize("stream", STREAMS)
def test_verify_finds_an_edited_event_in_every_stream(stream: int) -> None:
    events = _both_streams(4)[stream]
    _drop_guard()
    AuditEvent.objects.filter(pk=events[1].pk).update(after={"n": 999})
    assert [(p.seq, p.message) for p in verify().problems] == [
        (events[1].seq, f"stream {stream} #2: content does not match its hash (edited)")]


@pytest.mark.parametrize("stream", STREAMS)
def test_verify_finds_a_deleted_event_in_the_middle_of_every_stream(stream: int) -> None:
    events = _both_streams(5)[stream]
    _drop_guard()
    AuditEvent.objects.filter(pk=events[2].pk).delete()
    messages = _messages()
    assert f"stream {stream} #4: events 3..3 of the stream are missing" in messages
    assert f"stream {stream} #4: link to the previous event is broken" in messages
    assert len(messages) == 2


@pytest.mark.parametrize("stream", STREAMS)
def test_verify_finds_a_deleted_first_event(stream: int) -> None:
    events = _both_streams(2)[stream]
    _drop_guard()
    AuditEvent.objects.filter(pk=events[0].pk).delete()
    assert f"stream {stream} #2: first event does not start from the genesis hash" not in _messages()
    assert f"stream {stream} #2: events 1..1 of the stream are missing" in _messages()


@pytest.mark.parametrize("stream", STREAMS)
def test_verify_finds_reordered_events_in_every_stream(stream: int) -> None:
    events = _both_streams(4)[stream]
    _drop_guard()
    # Swap the positions of events 2 and 3 (through a free number, the pair is unique).
    AuditEvent.objects.filter(pk=events[1].pk).update(position=99)
    AuditEvent.objects.filter(pk=events[2].pk).update(position=2)
    AuditEvent.objects.filter(pk=events[1].pk).update(position=3)
    assert any(f"stream {stream} #" in m and "link to the previous event is broken" in m for m in _messages())


def test_verify_finds_events_reordered_by_their_global_seq() -> None:
    events = _both_streams(2)[1]
    _drop_guard()
    first, second = events[0].seq, events[1].seq
    AuditEvent.objects.filter(pk=events[0].pk).update(seq=10_000_000)
    AuditEvent.objects.filter(pk=events[1].pk).update(seq=first)
    AuditEvent.objects.filter(pk=events[0].pk).update(seq=second)
    assert _messages() == ["stream 1 #1: content does not match its hash (edited)",
                           "stream 1 #2: content does not match its hash (edited)"]


def test_verify_finds_an_event_moved_to_another_stream() -> None:
    events = _both_streams(3)[1]
    _drop_guard()
    AuditEvent.objects.filter(pk=events[2].pk).update(stream=2, position=4)
    messages = _messages()
    assert "stream 2 #4: link to the previous event is broken" in messages
    assert "stream 1 ends at #2 but its head says #3" in messages


@pytest.mark.parametrize("stream", STREAMS)
def test_verify_finds_a_cut_tail_through_the_stream_head(stream: int) -> None:
    events = _both_streams(3)[stream]
    _drop_guard()
    AuditEvent.objects.filter(pk=events[-1].pk).delete()
    assert _messages() == [f"stream {stream} ends at #2 but its head says #3"]


@pytest.mark.parametrize("stream", STREAMS)
def test_verify_finds_a_rehashed_forgery(stream: int) -> None:
    events = _both_streams(3)[stream]
    _drop_guard()
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.action = "forged"
    forged.hash = forged.compute_hash()  # consistent in itself, but the next link breaks
    forged.save()
    assert [p.seq for p in verify().problems] == [events[2].seq]


def test_a_seal_covers_every_stream_head() -> None:
    streams = _both_streams(2)
    made = seal()
    assert made is not None and made.prev_hash == GENESIS
    assert made.heads == {"1": [2, streams[1][-1].hash], "2": [2, streams[2][-1].hash]}
    assert seal() is None  # nothing new to seal
    _events(1, stream=2)
    later = seal()
    assert later is not None and later.prev_hash == made.hash and later.heads["2"][0] == 3
    result = verify()
    assert result.ok and result.seals == 2


@pytest.mark.parametrize("stream", STREAMS)
def test_verify_finds_a_sealed_tail_cut_even_when_the_head_is_rewound(stream: int) -> None:
    events = _both_streams(3)[stream]
    seal()
    _drop_guard()
    AuditEvent.objects.filter(pk=events[-1].pk).delete()
    AuditHead.objects.filter(pk=stream).update(position=2, hash=events[1].hash)  # a careful forger
    assert _messages() == [f"seal {AuditSeal.objects.get().pk}: sealed event stream {stream} #3 is missing"]


def test_verify_finds_a_sealed_event_replaced_by_a_rehashed_chain() -> None:
    events = _both_streams(2)[1]
    seal()
    _drop_guard()
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.action = "forged"
    forged.hash = forged.compute_hash()
    forged.save()
    AuditHead.objects.filter(pk=1).update(hash=forged.hash)
    assert _messages() == [f"seal {AuditSeal.objects.get().pk}: sealed event stream 1 #2 has another hash"]


def test_verify_finds_edited_deleted_and_reordered_seals() -> None:
    seals: list[AuditSeal] = []
    for _ in range(3):
        _events(1, stream=1)
        made = seal()
        assert made is not None
        seals.append(made)
    _drop_guard()
    AuditSeal.objects.filter(pk=seals[0].pk).update(heads={"1": [1, "f" * 64]})
    assert f"seal {seals[0].pk}: content does not match its hash (edited)" in _messages()
    AuditSeal.objects.filter(pk=seals[0].pk).update(heads=seals[0].heads)
    assert verify().ok
    AuditSeal.objects.filter(pk=seals[1].pk).delete()
    assert _messages() == [f"seal {seals[2].pk}: link to the previous seal is broken"]


def test_a_crash_between_write_and_seal_loses_nothing() -> None:
    _events(2)
    seal()
    with transaction.atomic():  # committed, then the process dies before any seal
        written = record_many(SYSTEM, [Change("thing.changed", ("demo.thing", n)) for n in range(3)])
    with pytest.raises(ZeroDivisionError), transaction.atomic():  # dies inside the write: rolls back
        record(SYSTEM, "thing.lost", ("demo.thing", 9))
        raise ZeroDivisionError
    assert verify().ok and not AuditEvent.objects.filter(action="thing.lost").exists()
    later = seal()
    assert later is not None and later.heads["1"] == [5, written[-1].hash]
    assert verify().ok


def test_the_seal_step_seals_at_most_once_per_interval(settings: object) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        _events(1)
        assert seal_step() is True
        _events(1)
        assert seal_step() is False
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert seal_step() is True and AuditSeal.objects.count() == 2
        assert seal_step() is False


def test_two_sealers_cannot_fork_the_seal_chain() -> None:
    _events(1)
    first = seal()
    assert first is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSeal.objects.create(sealed_at=first.sealed_at, heads={}, prev_hash=GENESIS, hash="0" * 64)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_concurrent_writers_take_separate_streams_and_never_fork_or_lose_events() -> None:
    writers, rounds, per_batch = 4, 10, 5
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        for r in range(rounds):
            with transaction.atomic():
                barrier.wait(timeout=30)  # all four hold their stream lock at the same time
                record_many(Actor(f"api:w{n}"), [Change("thing.changed", ("demo.thing", n), after={"r": r, "i": i})
                                                 for i in range(per_batch)])
                barrier.wait(timeout=30)

    run_writers(write, writers)
    result = verify()
    assert result.ok and result.checked == writers * rounds * per_batch
    assert result.streams == writers  # nobody queued behind another writer's stream
    seal()
    assert verify().ok


def test_concurrent_writers_on_any_database_never_fork_the_chain() -> None:
    def write(n: int) -> None:
        try:
            for r in range(5):
                with transaction.atomic():
                    record_many(Actor(f"api:w{n}"), [Change("thing.changed", ("demo.thing", n), after={"r": r})] * 3)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify()
    assert result.ok and result.checked == 45


def test_the_command_exits_non_zero_on_a_broken_chain(capsys: pytest.CaptureFixture[str]) -> None:
    events = _events(2)
    seal()
    call_command("audit", "verify")
    assert "audit chain intact: 2 events in 1 stream(s), 1 seal(s)" in capsys.readouterr().out
    _drop_guard()
    AuditEvent.objects.filter(pk=events[0].pk).update(actor_label="someone-else")
    with pytest.raises(CommandError, match="audit chain broken"):
        call_command("audit", "verify")


def test_the_command_seals_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    _events(2)
    call_command("audit", "seal")
    assert AuditSeal.objects.count() == 1 and "sealed" in capsys.readouterr().out


def test_timeline_lists_one_objects_events_in_order() -> None:
    events = _events(6)
    assert [e.pk for e in timeline("demo.thing", 1)] == [events[1].pk, events[4].pk]
    assert AuditHead.objects.get(pk=events[0].stream).position == 6
