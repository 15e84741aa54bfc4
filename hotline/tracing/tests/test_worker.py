"""The worker step: every assessed item with a traced verdict gets exactly one first trace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.lib import claim
from hotline.reports.models import Item
from hotline.sim.dns import SimDns
from hotline.sim.rdap import SimRdap
from hotline.tracing.conf import TraceConfig, config_from_settings
from hotline.tracing.models import Trace, TraceDue
from hotline.tracing.services import LEASE, claim_due, enqueue_untraced, request_trace
from hotline.tracing.steps import trace_step

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MakeItem = Callable[..., Item]


def test_the_step_traces_each_eligible_item_once(assessed_item: MakeItem, make_item: MakeItem,
                                                 config: TraceConfig) -> None:
    wanted = [assessed_item("google-dns.sim.test", verdict, path=f"/{verdict}")
              for verdict in ("baseline", "national", "other_harm")]
    skipped = [assessed_item("plain.sim.test", "not_illegal"), make_item("http://plain.sim.test/unassessed")]
    steps = 0
    while trace_step(now=NOW, config=config, concurrency=1):
        steps += 1
    assert steps == 3
    assert trace_step(now=NOW + timedelta(days=1), config=config) is False
    assert sorted(Trace.objects.values_list("item_id", flat=True)) == sorted(i.pk for i in wanted)
    assert not Trace.objects.filter(item__in=skipped).exists()
    assert not TraceDue.objects.exists()


def test_the_traced_verdicts_are_a_setting(assessed_item: MakeItem, config: TraceConfig) -> None:
    item = assessed_item("plain.sim.test", "not_illegal")
    with override_settings(HOTLINE_TRACE_VERDICTS=["not_illegal"]):
        assert trace_step(now=NOW, config=config) is True
    assert Trace.objects.filter(item=item).count() == 1


def test_a_claimed_row_is_leased_and_not_claimed_twice(assessed_item: MakeItem) -> None:
    item = assessed_item("google-dns.sim.test")
    assert enqueue_untraced(NOW) == 1
    assert enqueue_untraced(NOW) == 0  # already queued
    first = claim_due(NOW, 5)
    assert [r.item_id for r in first] == [item.pk]
    assert claim_due(NOW, 5) == []
    assert TraceDue.objects.get(item=item).due_at == NOW + LEASE
    # A worker that died mid-trace: the lease runs out and another worker picks the row up.
    assert [r.item_id for r in claim_due(NOW + LEASE, 5)] == [item.pk]


def test_retries_wait_for_their_due_time(assessed_item: MakeItem, config: TraceConfig) -> None:
    item = assessed_item("broken.sim.test")
    assert trace_step(now=NOW, config=config) is True
    assert trace_step(now=NOW + timedelta(minutes=4), config=config) is False
    assert trace_step(now=NOW + timedelta(minutes=5), config=config) is True
    assert Trace.objects.filter(item=item).count() == 2


def test_a_requested_re_trace_is_picked_up(assessed_item: MakeItem, config: TraceConfig) -> None:
    item = assessed_item("google-dns.sim.test")
    trace_step(now=NOW, config=config)
    request_trace(item, actor=SYSTEM, now=NOW + timedelta(days=1))
    assert trace_step(now=NOW + timedelta(days=1), config=config) is True
    assert Trace.objects.filter(item=item).count() == 2
    assert AuditEvent.objects.filter(action="item.trace_requested", object_id=str(item.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_the_step_runs_from_settings_alone(assessed_item: MakeItem, sim_dns: SimDns, sim_rdap: SimRdap) -> None:
    items = [assessed_item("google-dns.sim.test", path=f"/{n}") for n in range(3)]
    with override_settings(HOTLINE_DNS_RESOLVERS=sim_dns.spec, HOTLINE_RDAP_BASE_URL=sim_rdap.base_url,
                           HOTLINE_FETCH_ALLOW_LOOPBACK=True, HOTLINE_DNS_TIMEOUT=1):
        assert config_from_settings().rdap.base_url == sim_rdap.base_url
        assert trace_step(now=NOW) is True  # three at once, in threads
    countries = {t.item_id: t.country for t in Trace.objects.all()}
    assert countries == {i.pk: "US" for i in items}
    assert "hotline.tracing.steps.trace_step" in settings.HOTLINE_WORKER_STEPS


def test_a_claimed_batch_is_traced_at_once_with_a_bounded_number_of_queries(assessed_item: MakeItem,
                                                                          config: TraceConfig) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n in (2, 3, 6):  # warm-up (the RDAP cache), N, 2N
        items = [assessed_item("google-dns.sim.test", path=f"/batch-{n}-{k}") for k in range(n)]
        with CaptureQueriesContext(connection) as seen:
            assert trace_step(now=NOW, config=config, concurrency=n) is True
        # the claim's conditional UPDATE is one per row on SQLite (lib/claim.py); the rest is per batch
        inserts = [q for q in seen.captured_queries if q["sql"].startswith('INSERT INTO "tracing_trace" ')]
        assert len(inserts) == 1  # every snapshot in one INSERT, in this thread (was a thread per item)
        counts.append(len([q for q in seen.captured_queries if not q["sql"].startswith('UPDATE "tracing_tracedue"')]))
        traces = {t.item_id: t for t in Trace.objects.filter(item__in=items)}
        assert sorted(traces) == sorted(i.pk for i in items)
        assert {t.country for t in traces.values()} == {"US"}
        assert AuditEvent.objects.filter(action="item.traced", object_id__in=[str(i.pk) for i in items]).count() == n
    assert not TraceDue.objects.exists()
    assert counts[2] == counts[1], counts


@pytest.mark.django_db(transaction=True)  # the fallback traces in threads, each with a connection of its own
def test_a_batch_that_fails_is_traced_item_by_item(assessed_item: MakeItem, config: TraceConfig,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.tracing import services

    items = [assessed_item("google-dns.sim.test", path=f"/one-by-one-{k}") for k in range(3)]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the batch path")

    monkeypatch.setattr(services, "_trace_batch", broken)
    assert trace_step(now=NOW, config=config, concurrency=3) is True
    assert sorted(Trace.objects.values_list("item_id", flat=True)) == sorted(i.pk for i in items)


def test_the_compiled_claim_takes_the_rows_the_orm_claim_takes(assessed_item: MakeItem) -> None:
    items = [assessed_item(f"host{n}.sim.test") for n in range(7)]
    for n, item in enumerate(items):  # due in another order than created; the last two not yet due
        TraceDue.objects.create(item=item, due_at=NOW - timedelta(minutes=(n * 3) % 5) + timedelta(
            hours=1 if n >= 5 else 0), created_at=NOW)

    def taken(claimer: Callable[[], list[TraceDue]]) -> tuple[list[int], dict[int, datetime]]:
        with transaction.atomic():
            rows = [row.item_id for row in claimer()]
            written = dict(TraceDue.objects.values_list("item_id", "due_at"))
            transaction.set_rollback(True)
        return rows, written

    orm = taken(lambda: claim.claim_due(TraceDue.objects.due(NOW), limit=3, update={"due_at": NOW + LEASE},
                                        match=("due_at",)))
    assert taken(lambda: claim_due(NOW, 3)) == orm
    assert len(orm[0]) == 3 and sum(due == NOW + LEASE for due in orm[1].values()) == 3
    due = [row.item_id for row in TraceDue.objects.due(NOW)]
    assert len(due) == 5 and [row.item_id for row in claim_due(NOW, 10)] == due  # every due row, oldest due first
    assert claim_due(NOW, 10) == []


def test_the_configuration_is_built_once_until_a_setting_changes() -> None:
    before = config_from_settings()
    assert config_from_settings() is before
    with override_settings(HOTLINE_RDAP_BASE_URL="http://rdap.sim.test/", HOTLINE_DNS_RESOLVERS="127.0.0.1:5354"):
        changed = config_from_settings()
        assert changed.rdap.base_url == "http://rdap.sim.test/"
        assert changed.resolver.nameservers == (("127.0.0.1", 5354),)
    assert config_from_settings().rdap.base_url == before.rdap.base_url
    assert config_from_settings().resolver == before.resolver
