"""Push: assessments and actions reach ICCAM once each, in order, through the outbox; refusals are final."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.iccam import actions
from hotline.iccam.models import Content, Push, PushState
from hotline.iccam.services import claim_push
from hotline.iccam.steps import pull_step, push_step
from hotline.iccam.tests.pushing import URL, drain, pulled
from hotline.sim.iccam import SimIccam

pytestmark = pytest.mark.django_db


def test_an_assessment_goes_out_per_file_in_iccam_codes(iccam_on: SimIccam, facts: Any, make_media: Any) -> None:
    content, item = pulled(iccam_on)
    media = make_media(item)
    media.url = URL
    media.save(update_fields=["url"])
    facts.assess(item, "national", media=media, age="pubescent", gender="both")
    drain()
    sent = iccam_on.content(content.content_id)["assessments"]
    assert [(a["classification"], a["ageCategorization"], a["genderCategorization"],
             a["virtualContentCategorization"]) for a in sent] == [(2, 4, 4, 1)]
    assert Push.objects.get().state == PushState.SENT


def test_not_illegal_goes_as_ignore_then_a_not_illegal_action_with_its_reason(iccam_on: SimIccam, facts: Any) -> None:
    content, item = pulled(iccam_on)
    facts.assess(item, "not_illegal", reason="adult_pornography")
    drain()
    assert [w for w in iccam_on.writes if w[0] != "reference"] == [
        ("assessment", content.content_id, 4), ("action", content.content_id, 6)]
    action = iccam_on.content(content.content_id)["actions"][0]
    assert action["reasonId"] == 14


def test_the_actions_follow_the_case_once_each_and_in_order(iccam_on: SimIccam, facts: Any) -> None:
    _content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    facts.referred(item)
    drain()
    facts.noticed(item)
    drain()
    facts.noticed(item, removed=True)
    drain()
    drain()
    assert [w[2] for w in iccam_on.writes if w[0] in ("assessment", "action")] == [1, 1, 2, 3]
    assert set(iccam_on.write_counts().values()) == {1}
    assert set(Push.objects.values_list("state", flat=True)) == {PushState.SENT}


def test_an_item_another_hotline_assessed_as_baseline_is_refused_once_and_not_retried(
    iccam_on: SimIccam, facts: Any
) -> None:
    _content, item = pulled(iccam_on, classification=1)
    facts.assess(item, "national")
    drain(now=timezone.now())
    push = Push.objects.get(kind="assessment")
    assert push.state == PushState.REFUSED and "already assessed" in push.last_error
    assert push_step(now=timezone.now() + timedelta(days=1)) is False
    assert iccam_on.calls["PUT rest/Content/{id}/assessment"] == 0
    assert AuditEvent.objects.filter(action="iccam.push_refused").count() == 1


def test_an_item_reassigned_to_another_country_is_refused(iccam_on: SimIccam, facts: Any) -> None:
    content, item = pulled(iccam_on)
    iccam_on.contents[content.content_id]["assignedCountryCode"] = "NL"
    facts.assess(item, "baseline")
    drain()
    push = Push.objects.get()
    assert push.state == PushState.REFUSED and "assigned to NL" in push.last_error


def test_icca_ms_own_refusal_of_a_write_is_recorded_as_refused(iccam_on: SimIccam, facts: Any) -> None:
    _content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    original = iccam_on._write

    def sneak_in(method: str, it: dict[str, Any], what: str, query: Any, data: Any) -> Any:
        if what == "assessment":  # another hotline's action lands between our read and our write
            it["actions"].append({"actionType": 2})
        return original(method, it, what, query, data)

    iccam_on._write = sneak_in  # type: ignore[method-assign,assignment]
    drain()
    push = Push.objects.get()
    assert push.state == PushState.REFUSED and "HTTP 400" in push.last_error and "[ICCAM Assessment]" in push.last_error


def test_a_429_waits_for_retry_after_and_an_outage_backs_off(iccam_on: SimIccam, facts: Any) -> None:
    content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    now = timezone.now()
    iccam_on.throttle(5, retry_after=600)
    push_step(now=now)
    push = Push.objects.get()
    assert push.state == PushState.QUEUED and push.next_attempt_at is not None
    assert push.next_attempt_at >= now + timedelta(seconds=600)
    assert push_step(now=now + timedelta(minutes=5)) is False  # paused, nothing sent
    iccam_on.throttle(0)
    iccam_on.offline = True
    push_step(now=now + timedelta(minutes=11))
    push.refresh_from_db()
    assert (push.state, push.attempts) == (PushState.QUEUED, 2) and "HTTP 503" in push.last_error
    assert push.next_attempt_at == now + timedelta(minutes=11) + timedelta(minutes=4)
    iccam_on.offline = False
    push_step(now=now + timedelta(minutes=16))
    push.refresh_from_db()
    assert push.state == PushState.SENT and iccam_on.write_counts()[("assessment", content.content_id, 1)] == 1


def test_a_write_that_reached_iccam_before_the_sender_died_is_not_sent_again(iccam_on: SimIccam, facts: Any) -> None:
    content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    drain()
    facts.referred(item)
    now = timezone.now()
    from hotline.iccam import conf
    from hotline.iccam.client import IccamSession
    from hotline.iccam.codes import Table
    from hotline.iccam.services import push

    config = conf.config()
    assert config is not None
    push.observe(Table(), analyst=config.username, country="BE", now=now)
    row = claim_push(now)
    assert row is not None and row.action_type == 1
    with IccamSession(config) as session:  # the send arrives, then the worker is killed before recording it
        session.post(f"rest/Content/{content.content_id}/actions", dict(row.payload))
    assert push_step(now=now + timedelta(seconds=30)) is False  # the lease still runs
    push_step(now=now + timedelta(minutes=3))
    row.refresh_from_db()
    assert row.state == PushState.SENT and row.attempts == 2
    assert iccam_on.write_counts()[("action", content.content_id, 1)] == 1
    assert AuditEvent.objects.filter(action="iccam.push_lease_expired").count() == 1


def test_moved_content_gets_new_hosting_then_the_new_country(iccam_on: SimIccam, facts: Any) -> None:
    content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    facts.trace(item, "NL", ip="203.0.113.9")
    drain()
    after = iccam_on.content(content.content_id)
    assert (after["url"]["hostingCountryCode"], after["url"]["hostingIpAddress"], after["assignedCountryCode"]) == (
        "NL", "203.0.113.9", "NL")
    assert [w[0] for w in iccam_on.writes][-2:] == ["hosting", "assigned-country"]


def test_a_national_report_of_foreign_hosted_content_is_created_in_iccam_once(
    iccam_on: SimIccam, facts: Any, make_item: Any
) -> None:
    item = make_item("http://site-9.sim.test/page")
    facts.assess(item, "baseline")
    facts.trace(item, "NL")
    drain()
    (report_id,) = [w[1] for w in iccam_on.writes if w[0] == "report"]
    report = iccam_on.reports[report_id]
    assert [c["urlString"] for c in report["reportContents"]] == [item.canonical_url]
    content = Content.objects.get(item=item)
    assert (content.origin, content.iccam_report_id) == ("pushed", report_id)
    assert iccam_on.content(content.content_id)["assessments"][0]["classification"] == 1
    drain()
    assert len([w for w in iccam_on.writes if w[0] == "report"]) == 1


def test_a_national_item_that_moves_abroad_is_created_in_iccam_when_it_moves(
    iccam_on: SimIccam, facts: Any, make_item: Any
) -> None:
    from hotline.iccam import conf

    home = conf.config().country  # type: ignore[union-attr]
    item = make_item("http://site-9.sim.test/moving")
    facts.assess(item, "baseline")
    facts.trace(item, home)
    drain()
    assert not [w for w in iccam_on.writes if w[0] == "report"]  # hosted at home: the national route
    facts.trace(item, "NL")  # the host moved abroad: the earlier trace at home no longer holds it back
    drain()
    (report_id,) = [w[1] for w in iccam_on.writes if w[0] == "report"]
    content = Content.objects.get(item=item)
    assert content.iccam_report_id == report_id
    assert iccam_on.content(content.content_id)["url"]["hostingCountryCode"] == "NL"


def test_a_report_creation_cut_off_mid_send_is_never_posted_again(
    iccam_on: SimIccam, facts: Any, make_item: Any
) -> None:
    item = make_item("http://site-9.sim.test/page")
    facts.assess(item, "baseline")
    facts.trace(item, "NL")
    now = timezone.now()
    from hotline.iccam import conf
    from hotline.iccam.codes import Table
    from hotline.iccam.services import push

    push.observe(Table(), analyst="hotline-api", country=conf.config().country, now=now)  # type: ignore[union-attr]
    assert claim_push(now) is not None  # ... and the worker dies
    push_step(now=now + timedelta(minutes=3))
    row = Push.objects.get()
    assert row.state == PushState.UNCERTAIN and "check in ICCAM" in row.last_error
    assert iccam_on.calls["POST rest/reports"] == 0


def test_observe_reads_only_items_with_a_change_and_queues_a_change_made_between_passes(
    iccam_on: SimIccam, facts: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hotline.iccam.codes import Table
    from hotline.iccam.services import push

    iccam_on.add_report([f"http://site-7.sim.test/img-{n}.png" for n in range(4)])
    pull_step()
    contents = list(Content.objects.order_by("pk"))
    for content in contents:
        facts.assess(content.item, "baseline")
        facts.referred(content.item)
    facts.noticed(contents[0].item)
    facts.trace(contents[1].item, "NL")

    def observe() -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as seen:
            queued = push.observe(Table(), analyst="hotline-api", country="BE", now=timezone.now())
        return queued, [q["sql"] for q in seen.captured_queries]

    queued, _sql = observe()
    assert queued == 4 * 2 + 1 + 1  # assessment and to police each, to host for one, moved for one
    queued, sql = observe()  # nothing changed: the two finding queries (one statement), nothing read per item
    assert (queued, len(sql)) == (0, 1), sql
    facts.noticed(contents[2].item, removed=True)  # a change between two passes
    queued, sql = observe()
    assert queued == 2  # to host, then removed (final), for that item only
    assert [(p.content_id, p.action_type) for p in Push.objects.order_by("pk")][-2:] == [
        (contents[2].pk, 2), (contents[2].pk, 3)]
    queued, sql = observe()
    assert (queued, len(sql)) == (0, 1), sql
    facts.trace(contents[1].item, "FR")  # moved again: the move to the new country, once
    assert observe()[0] == 1
    facts.trace(contents[1].item, "FR")
    queued, sql = observe()
    assert (queued, len(sql)) == (0, 1), sql
    assert Push.objects.filter(kind="move").count() == 2


def test_an_observe_pass_that_dies_half_way_loses_no_write(iccam_on: SimIccam, facts: Any, monkeypatch: Any) -> None:
    from hotline.iccam.codes import Table
    from hotline.iccam.services import push, writes

    content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    facts.referred(item)
    facts.noticed(item)
    real = writes.record_many  # type: ignore[attr-defined]

    def dies(*args: Any, **kw: Any) -> Any:  # after the rows' INSERT, before their audit events
        raise RuntimeError("killed")

    monkeypatch.setattr(writes, "record_many", dies)
    with pytest.raises(RuntimeError):
        push.observe(Table(), analyst="hotline-api", country="BE", now=timezone.now())
    assert not Push.objects.exists()  # the pass's rows go with their audit events, or not at all
    monkeypatch.setattr(writes, "record_many", real)
    assert push.observe(Table(), analyst="hotline-api", country="BE", now=timezone.now()) == 3
    assert [p.dedup for p in Push.objects.order_by("pk")] == [
        f"assessment:{content.content_id}", f"action:1:{content.content_id}", f"action:2:{content.content_id}"]
    queued = AuditEvent.objects.filter(action=actions.PUSH_QUEUED).order_by("seq")
    assert [(e.object_id, (e.after or {})["write"]) for e in queued] == [
        (str(p.pk), p.dedup) for p in Push.objects.order_by("pk")]


def test_a_write_another_worker_queued_meanwhile_is_left_out_and_the_rest_queued(
        iccam_on: SimIccam, facts: Any) -> None:
    from hotline.iccam.services import writes

    content, item = pulled(iccam_on)
    now = timezone.now()
    rows = [writes.unsaved_push(kind="action", dedup=f"action:{n}:{content.content_id}", lane=f"c{content.pk}",
                                item_id=item.pk, content=content, action_type=n, now=now) for n in (1, 2, 3)]
    assert writes.queue_push(kind="action", dedup=f"action:2:{content.content_id}", lane=f"c{content.pk}",
                             item_id=item.pk, content=content, action_type=2, now=now) is not None  # the other worker
    assert writes.queue_pushes(rows, now=now) == 2
    assert [p.dedup for p in Push.objects.order_by("pk")] == [
        f"action:2:{content.content_id}", f"action:1:{content.content_id}", f"action:3:{content.content_id}"]
    assert AuditEvent.objects.filter(action=actions.PUSH_QUEUED).count() == 3  # one per row that exists


# Statements of one push_step per write it sends (savepoints left out: the test runs in a transaction): the claim
# (SELECT, with the content item and whether ICCAM paused us, and UPDATE) and the outcome (the state's UPDATE and
# the audit append's statements: two on PostgreSQL, three on SQLite, where the stream head and the largest event id
# are one statement). Main at 3506dac: ten (also a read-back after the claim, the content item
# read lazily, and a separate question whether ICCAM paused us); and seven per write queued (now one batch).
# Each write is claimed, sent and recorded alone by design: a write recorded in a later batch could be sent twice
# after a crash (a report creation has no idempotency key), and claiming ahead would change the order in which a
# lane's next write follows the one before it.
QUERIES_PER_WRITE = {"postgresql": 5, "sqlite": 6}


def test_push_step_queues_in_one_batch_and_sends_each_write_with_a_fixed_number_of_queries(
        iccam_on: SimIccam, facts: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hotline.iccam.codes import Table
    from hotline.iccam.services import push

    def due(n: int, batch: int) -> None:
        iccam_on.add_report([f"http://site-8.sim.test/b{batch}-{k}.png" for k in range(n)])
        pull_step(now=timezone.now() + timedelta(minutes=2 * batch))  # one pull per interval
        for content in Content.objects.filter(pushes__isnull=True, item__isnull=False):
            facts.assess(content.item, "baseline")

    counts: dict[str, list[int]] = {"observe": [], "send": []}
    for batch, n in enumerate((1, 3, 6)):  # warm-up, N, 2N
        due(n, batch)
        with CaptureQueriesContext(connection) as queued:
            assert push.observe(Table(), analyst="hotline-api", country="BE",
                                now=timezone.now() + timedelta(minutes=2 * batch)) == n
        with CaptureQueriesContext(connection) as sent:
            assert push_step(now=timezone.now() + timedelta(minutes=2 * batch), limit=50)
        assert Push.objects.filter(state=PushState.SENT).count() == sum((1, 3, 6)[:batch + 1])
        counts["observe"].append(len(queued.captured_queries))
        counts["send"].append(len([q for q in sent.captured_queries if "SAVEPOINT" not in q["sql"]]))
    assert counts["observe"][2] <= counts["observe"][1], counts  # queueing 2N writes: no more queries than N
    per_write = (counts["send"][2] - counts["send"][1]) / 3
    assert per_write == QUERIES_PER_WRITE[connection.vendor], counts


def test_an_idle_push_step_asks_two_selects_and_opens_no_transaction(iccam_on: SimIccam) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert not push_step()  # warm-up: compiles the finding queries
    with CaptureQueriesContext(connection) as seen:
        assert not push_step()
    statements = [q["sql"] for q in seen.captured_queries]
    # new reports to create and content items with a write to queue (one statement), any write due (and not paused)
    assert len(statements) == 2, statements
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in statements), statements


def test_no_write_is_claimed_while_iccam_has_asked_us_to_wait(iccam_on: SimIccam, facts: Any) -> None:
    from hotline.iccam.services import pause

    _content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    now = timezone.now()
    pause(now=now, seconds=600)
    assert push_step(now=now + timedelta(minutes=1))  # queued: found work, but sent nothing
    assert Push.objects.get().state == PushState.QUEUED
    assert claim_push(now + timedelta(minutes=5)) is None
    assert not push_step(now=now + timedelta(minutes=5))
    assert push_step(now=now + timedelta(minutes=11))  # the wait is over
    assert Push.objects.get().state == PushState.SENT


def test_a_row_another_worker_claimed_after_it_was_read_is_not_claimed_again(iccam_on: SimIccam, facts: Any) -> None:
    from django.db import connection, transaction

    from hotline.iccam import conf
    from hotline.iccam.services import writes
    from hotline.lib import prepared

    _content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    now = timezone.now()
    from hotline.iccam.codes import Table
    from hotline.iccam.services import push

    assert push.observe(Table(), analyst="hotline-api", country="BE", now=now) == 1
    lease = now + timedelta(minutes=2)
    with transaction.atomic():
        read = prepared.objects("iccam.claim_push", writes._claimable, now=now)[0]
        if connection.vendor != "postgresql":  # PostgreSQL: the read holds the row's lock, no one else can claim it
            assert writes.claim_push(now + timedelta(seconds=1)) is not None  # the other worker, in between
            assert writes._take(read, lease) is False  # the values read no longer hold: left alone
            row = Push.objects.get(pk=read.pk)
            assert (row.attempts, row.next_attempt_at) == (1, now + timedelta(seconds=1) + conf.send_lease())
            return
        assert writes._take(read, lease) is True
    row = Push.objects.get(pk=read.pk)
    assert (row.state, row.attempts, row.next_attempt_at) == (PushState.SENDING, 1, lease)


def test_an_outcome_is_only_recorded_for_a_row_being_sent(iccam_on: SimIccam, facts: Any) -> None:
    from hotline.iccam.services import writes
    from hotline.lib.states import InvalidTransition

    _content, item = pulled(iccam_on)
    facts.assess(item, "baseline")
    now = timezone.now()
    from hotline.iccam.codes import Table
    from hotline.iccam.services import push

    push.observe(Table(), analyst="hotline-api", country="BE", now=now)
    queued = Push.objects.get()
    with pytest.raises(InvalidTransition):  # queued, never claimed
        writes.push_sent(queued, now=now)
    with pytest.raises(InvalidTransition):
        writes.push_refused(queued, "no", now=now)
    with pytest.raises(InvalidTransition):
        writes.push_uncertain(queued, now=now)
    assert Push.objects.get().state == PushState.QUEUED
    claimed = writes.claim_push(now)
    assert claimed is not None
    writes.push_refused(claimed, "ICCAM: refused", now=now + timedelta(seconds=5))
    row = Push.objects.get()
    assert (row.state, row.refused_at, row.next_attempt_at, row.last_error) == (
        PushState.REFUSED, now + timedelta(seconds=5), None, "ICCAM: refused")
    with pytest.raises(InvalidTransition):
        writes.push_sent(claimed, now=now)  # refused is final


def test_one_pass_finds_new_reports_and_content_writes_in_one_statement_and_queues_both(
    iccam_on: SimIccam, facts: Any, make_item: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hotline.iccam.codes import Table
    from hotline.iccam.services import push

    iccam_on.add_report([f"http://site-7.sim.test/img-{n}.png" for n in range(2)])
    pull_step()
    pulled = list(Content.objects.order_by("pk"))
    national = [make_item(f"http://site-9.sim.test/page-{n}") for n in range(3)]
    for content in pulled:
        facts.assess(content.item, "baseline")
    for item in national:
        facts.assess(item, "baseline")
        facts.trace(item, "NL")
    with CaptureQueriesContext(connection) as seen:
        found = push._found("BE")
    assert found == ([item.pk for item in national], [content.pk for content in pulled])
    assert len(seen.captured_queries) == 1
    assert push.observe(Table(), analyst="hotline-api", country="BE", now=timezone.now()) == 3 + 2
    assert sorted(Push.objects.values_list("dedup", flat=True)) == sorted(
        [f"report:{item.pk}" for item in national] + [f"assessment:{c.content_id}" for c in pulled])
    assert push._found("BE") == ([], [])  # queued: neither is found again
