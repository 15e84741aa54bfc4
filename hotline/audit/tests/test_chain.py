from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from hotline.audit import guard
from hotline.audit.models import AuditEvent, AuditHead
from hotline.audit.services import SYSTEM, Actor, record, timeline, verify

pytestmark = pytest.mark.django_db(transaction=True)


def _events(n: int) -> list[AuditEvent]:
    out = []
    for i in range(n):
        with transaction.atomic():
            out.append(record(Actor("user:ana", 7), "thing.changed", ("demo.thing", i % 3),
                              before={"n": i}, after={"n": i + 1}))
    return out


def _drop_guard() -> None:
    guard.remove(connection)


def test_it_chains_each_event_to_the_previous_one() -> None:
    events = _events(5)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    result = verify()
    assert result.ok and result.checked == 5 and result.head_hash == events[-1].hash


def test_it_refuses_to_write_outside_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record(SYSTEM, "x", ("demo.thing", 1))


def test_the_database_refuses_updates_and_deletes() -> None:
    _events(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).delete()
    assert verify().ok


def test_verify_finds_an_edited_event() -> None:
    _events(4)
    _drop_guard()
    AuditEvent.objects.filter(seq=2).update(after={"n": 999})
    result = verify()
    assert [(p.seq, p.message) for p in result.problems] == [(2, "content does not match its hash (edited)")]


def test_verify_finds_a_deleted_event_in_the_middle() -> None:
    _events(5)
    _drop_guard()
    AuditEvent.objects.filter(seq=3).delete()
    messages = [p.message for p in verify().problems]
    assert "events 3..3 are missing" in messages
    assert "link to the previous event is broken" in messages


def test_verify_finds_a_cut_tail_through_the_head() -> None:
    _events(3)
    _drop_guard()
    AuditEvent.objects.filter(seq=3).delete()
    problems = verify().problems
    assert len(problems) == 1 and "head says #3" in problems[0].message


def test_verify_finds_a_rehashed_forgery() -> None:
    events = _events(3)
    _drop_guard()
    forged = AuditEvent.objects.get(seq=2)
    forged.action = "forged"
    forged.hash = forged.compute_hash()  # consistent in itself, but the next link breaks
    forged.save()
    problems = verify().problems
    assert [p.seq for p in problems] == [3]
    assert events[2].prev_hash != forged.hash


def test_the_command_exits_non_zero_on_a_broken_chain(capsys: pytest.CaptureFixture[str]) -> None:
    _events(2)
    call_command("audit", "verify")
    assert "audit chain intact: 2 events" in capsys.readouterr().out
    _drop_guard()
    AuditEvent.objects.filter(seq=1).update(actor_label="someone-else")
    with pytest.raises(CommandError, match="audit chain broken"):
        call_command("audit", "verify")


def test_timeline_lists_one_objects_events_in_order() -> None:
    _events(6)
    assert [e.seq for e in timeline("demo.thing", 1)] == [2, 5]
    assert AuditHead.objects.get().seq == 6
