"""A notice's record is written with UPDATEs compiled once per process (``prepared.update``): they must write
exactly what the ORM's ``update`` / ``bulk_update`` / ``move_notice`` they replace wrote, for every shape (first
notice, repeat, escalation; delivered or not; one line or several; takedowns of another contact, not repeating,
or on the last rung)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from hotline.lib import prepared
from hotline.reports.models import Item
from hotline.takedown import conf, render, xarf
from hotline.takedown.channels import SendResult
from hotline.takedown.models import (
    NOTICE_STATES,
    Notice,
    NoticeItem,
    NoticeKind,
    NoticeState,
    Takedown,
    TakedownState,
    move_notice,
)
from hotline.takedown.services import sending
from hotline.takedown.services.notices import batch_window
from hotline.takedown.tests.conftest import MakeContact, make_trace_for
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db


def _orm_stamp(notice: Notice, takedowns: list[Takedown], now: datetime) -> None:
    """``_stamp_takedowns`` as the ORM wrote it before it was compiled once."""
    soon = now + conf.schedule()[0][1]
    updates: dict[str, Any] = {
        "first_notice_at": Coalesce("first_notice_at", Value(now)), "last_notice_at": now,
        "notices_sent": F("notices_sent") + 1, "next_check_at": Least(Coalesce("next_check_at", Value(soon)), soon),
        "next_escalation_at": Case(When(escalation_rung__lt=len(conf.ladder()), then=Value(now)),
                                   default=F("next_escalation_at")),
    }
    if notice.kind == NoticeKind.REPEAT:
        updates["repeats"] = F("repeats") + 1
    if notice.kind != NoticeKind.ESCALATION and any(t.contact_id == notice.contact_id for t in takedowns):
        rhythm = timedelta(hours=max(1, notice.contact.repeat_hours))
        lead = min(batch_window(None), rhythm - timedelta(minutes=1))
        repeating = Q(contact_id=notice.contact_id, state__in=NOTICE_STATES)
        updates["next_notice_at"] = Case(When(repeating, then=Value(now + rhythm - lead)),
                                         default=F("next_notice_at"))
    Takedown.objects.filter(pk__in=[t.pk for t in takedowns]).update(**updates)


def _snapshot() -> list[dict[str, Any]]:
    return [dict(row) for rows in (Takedown.objects.order_by("pk").values(), Notice.objects.order_by("pk").values(),
                                   NoticeItem.objects.order_by("pk").values()) for row in rows]


def _both(orm: Callable[[], object], compiled: Callable[[], object]) -> tuple[list[dict[str, Any]], ...]:
    """The rows after ``orm`` (rolled back) and after ``compiled``."""
    with transaction.atomic():
        orm()
        by_orm = _snapshot()
        transaction.set_rollback(True)
    compiled()
    return by_orm, _snapshot()


@pytest.fixture
def setup(make_contact: MakeContact,
          make_item: Callable[..., Item]) -> Callable[[str], tuple[Notice, list[NoticeItem]]]:
    def make(kind: str) -> tuple[Notice, list[NoticeItem]]:
        ours, other = make_contact(), make_contact()
        now = timezone.now().replace(microsecond=0) - timedelta(days=2)
        notice = Notice.objects.create(kind=kind, contact=ours, provider=ours.provider, channel="email",
                                       recipient=ours.email, language="en", state=NoticeState.SENDING, created_at=now,
                                       next_attempt_at=now, attempts=1)
        shapes: list[tuple[AbuseContact, str, dict[str, Any]]] = [
            (ours, TakedownState.ONLINE, {}),
            (ours, TakedownState.REAPPEARED, {"first_notice_at": now, "next_check_at": now + timedelta(days=9),
                                              "escalation_rung": len(conf.ladder()), "repeats": 2, "notices_sent": 3,
                                              "next_escalation_at": now, "next_notice_at": now}),
            (other, TakedownState.ONLINE, {"next_check_at": now - timedelta(hours=1), "escalation_rung": 1}),
            (ours, TakedownState.REMOVAL_PENDING, {"next_notice_at": now + timedelta(hours=3, microseconds=7)}),
        ]
        lines = []
        for contact, state, extra in shapes:
            item = make_item()
            trace = make_trace_for(item, contact, at=now)
            takedown = Takedown.objects.create(item=item, state=state, state_changed_at=now, opened_at=now,
                                               reported_at=now, contact=contact, provider=contact.provider, **extra)
            lines.append(NoticeItem.objects.create(notice=notice, item=item, takedown=takedown, trace=trace,
                                                   url=item.canonical_url, ip="198.51.100.7", traced_at=now,
                                                   added_at=now))
        return Notice.objects.select_related("contact").get(pk=notice.pk), lines

    return make


@pytest.mark.parametrize("kind", [NoticeKind.FIRST, NoticeKind.REPEAT, NoticeKind.ESCALATION])
def test_the_takedowns_timings_are_those_the_orm_wrote(setup: Callable[..., Any], kind: str) -> None:
    notice, lines = setup(kind)
    now = timezone.now()
    for takedowns in ([line.takedown for line in lines], [lines[2].takedown], [lines[0].takedown]):
        by_orm, compiled = _both(lambda: _orm_stamp(notice, takedowns, now),  # noqa: B023
                                 lambda: sending._stamp_takedowns(notice, takedowns, None, now))  # noqa: B023
        assert by_orm == compiled
        now += timedelta(hours=1, microseconds=3)


@pytest.mark.parametrize("delivered", [False, True])
def test_the_move_to_sent_and_the_lines_retrace_are_those_the_orm_wrote(setup: Callable[..., Any],
                                                                         delivered: bool) -> None:
    notice, lines = setup(NoticeKind.FIRST)
    now = timezone.now()
    for line, ip in zip(lines, ["203.0.113.9", "", "2001:db8::1", "198.51.100.250"], strict=True):
        line.trace = make_trace_for(line.item, notice.contact, ip=ip or "192.0.2.1", at=now)
        line.traced_at, line.ip = line.trace.traced_at, ip

    def orm() -> None:
        move_notice(Notice.objects.filter(pk=notice.pk), NoticeState.SENT, now=now,
                    sent_at=Coalesce("sent_at", Value(now)), next_attempt_at=None, last_error="",
                    delivered_at=now if delivered else None)
        NoticeItem.objects.bulk_update(lines[:3], ["trace", "traced_at", "ip"])
        NoticeItem.objects.bulk_update(lines[3:], ["trace", "traced_at", "ip"])
        Notice.objects.filter(pk=notice.pk).update(retraced_at=now)

    def compiled() -> None:
        moved = prepared.update("takedown.notice_sent", functools.partial(sending._notice_sent, delivered),
                                vary=("test", delivered), notice=notice.pk, now=now)
        assert moved == 1
        sending._write_retraced(notice, lines[:3], now)
        sending._write_retraced(notice, lines[3:], now)

    by_orm, by_compiled = _both(orm, compiled)
    assert by_orm == by_compiled
    assert {line["ip"] for line in by_compiled[-4:]} == {"203.0.113.9", "", "2001:db8::1", "198.51.100.250"}


def test_a_notice_recorded_sent_twice_is_refused(setup: Callable[..., Any]) -> None:
    notice, lines = setup(NoticeKind.FIRST)
    result = SendResult(delivered=False, detail="accepted")
    sending._sent(notice, lines, result, None, now=timezone.now())
    from hotline.lib.states import InvalidTransition

    with pytest.raises(InvalidTransition):
        sending._sent(notice, lines, result, None, now=timezone.now())


def test_more_lines_than_one_statement_takes_are_written_in_bulk_updates_batches(
        setup: Callable[..., Any], make_item: Callable[..., Item]) -> None:
    """A full notice (``MAX_NOTICE_ITEMS``) re-traced: split as ``bulk_update`` splits it (SQLite: 199 lines a
    statement), every line written."""
    notice, lines = setup(NoticeKind.FIRST)
    now = timezone.now()
    takedown = lines[0].takedown
    extra = NoticeItem.objects.bulk_create([
        NoticeItem(notice=notice, item=item, takedown=takedown, url=item.canonical_url, ip="", added_at=now)
        for item in [make_item() for _ in range(200)]])
    lines = list(NoticeItem.objects.filter(pk__in=[line.pk for line in [*lines, *extra]]).select_related("item"))
    for n, line in enumerate(lines):
        line.trace = make_trace_for(line.item, notice.contact, at=now + timedelta(microseconds=n))
        line.traced_at, line.ip = line.trace.traced_at, f"192.0.2.{n % 250}"

    by_orm, compiled = _both(lambda: NoticeItem.objects.bulk_update(lines, ["trace", "traced_at", "ip"]),
                             lambda: sending._write_retraced(notice, lines, now))
    assert [row for row in by_orm if "ip" in row] == [row for row in compiled if "ip" in row]
    assert NoticeItem.objects.filter(ip__startswith="192.0.2.").count() == len(lines) == 204


def test_the_live_lines_are_those_the_orm_reads(setup: Callable[..., Any]) -> None:
    """``live_lines_of`` reads with SQL compiled once (``prepared.instances``): the same lines, items, takedowns and
    traces as the ORM's ``select_related`` query; a dropped line left out, a line without a trace kept."""
    (first, lines), (second, _) = setup(NoticeKind.FIRST), setup(NoticeKind.REPEAT)
    NoticeItem.objects.filter(pk=lines[0].pk).update(dropped_at=timezone.now(), drop_reason="moved")
    NoticeItem.objects.filter(pk=lines[1].pk).update(trace=None)
    found = render.live_lines_of([second, first])

    def fields(instance: Any) -> dict[str, Any]:
        return {key: value for key, value in vars(instance).items() if key != "_state"}

    for notice in (first, second):
        expected = list(NoticeItem.objects.filter(notice=notice, dropped_at__isnull=True)
                        .select_related("item", "takedown", "trace").order_by("item_id"))
        assert [fields(line) for line in found[notice.pk]] == [fields(line) for line in expected]
        for line, orm in zip(found[notice.pk], expected, strict=True):
            assert line.notice is notice
            assert fields(line.item) == fields(orm.item) and fields(line.takedown) == fields(orm.takedown)
            assert (line.trace is None) == (orm.trace is None)
            assert line.trace is None or fields(line.trace) == fields(orm.trace)
    assert len(found[first.pk]) == 3 and found[first.pk][0].trace is None


def test_the_xarf_facts_are_those_the_orm_reads(make_item: Callable[..., Item], make_media: Any) -> None:
    """``xarf.Facts`` reads with SQL compiled once per number of items: the good files with hashes, the items that
    inherited a known verdict and each file's final verdict, as the ORM's queries read them; none for no items."""
    from hotline.assessment.models import Assessment, MediaAssessment
    from hotline.evidence.models import Media

    now = timezone.now()
    items = [make_item() for _ in range(3)]
    files = [make_media(item, seed=n) for n, item in enumerate(items, start=1)] + [make_media(items[0], seed=9)]
    Media.objects.filter(pk=files[3].pk).update(is_bad=True)
    for item, inherited in ((items[0], False), (items[1], True)):
        assessment = Assessment.objects.create(item=item, created_at=now, is_final=True, verdict="baseline",
                                               inherited=inherited)
        MediaAssessment.objects.create(assessment=assessment, media=files[items.index(item)], verdict="national")
    for ids in ([item.pk for item in items], [items[1].pk], [items[2].pk, items[0].pk]):
        facts = xarf.Facts(ids)
        media = list(Media.objects.filter(item_id__in=ids, is_bad=False).exclude(sha256="").order_by("pk")
                     .values("pk", "item_id", "md5", "sha1", "sha256", "kind"))
        assert sorted((m for found in facts.media.values() for m in found), key=lambda m: m["pk"]) == media and media
        assert facts.inherited == set(Assessment.objects.filter(item_id__in=ids, is_final=True, inherited=True)
                                      .values_list("item_id", flat=True))
        assert facts.verdicts == dict(MediaAssessment.objects.final().filter(media__item_id__in=ids)
                                      .values_list("media_id", "verdict"))
    assert xarf.Facts([items[1].pk]).inherited == {items[1].pk}
    empty = xarf.Facts([])
    assert (empty.media, empty.inherited, empty.verdicts) == ({}, set(), {})
