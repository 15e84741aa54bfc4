"""trace_items (a notice's re-trace) against the DNS stub and RDAP server on loopback: the same snapshots as
trace_item one at a time, and a number of queries that does not grow with the items."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.reports.models import Item
from hotline.tracing import actions
from hotline.tracing.conf import TraceConfig
from hotline.tracing.importer import load_cdns
from hotline.tracing.models import Trace, TraceDue
from hotline.tracing.schema import ContactIn, ProviderIn
from hotline.tracing.services import merge_provider, trace_item, trace_items

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MakeItem = Callable[..., Item]
HOSTS = ["google-dns.sim.test", "plain.sim.test", "www.behind-cdn.sim.test", "disputed.sim.test",
         "relabelled.sim.test", "private.sim.test", "nothing.sim.test", "broken.sim.test", "plain.sim.test"]


def _facts(trace: Trace) -> dict[str, Any]:
    addresses = [{**a, "rdap": {k: v for k, v in a["rdap"].items() if k != "cached"}} for a in trace.addresses]
    return {"host": trace.host, "outcome": trace.outcome, "country": trace.country,
            "signals": trace.country_signals, "disputed": trace.country_disputed, "provider": trace.provider_id,
            "contact": trace.abuse_contact_id, "cdn": trace.cdn_id, "addresses": addresses,
            "error": trace.error.replace(" (cached)", "")}


def test_it_gives_each_item_the_snapshot_a_trace_of_its_own_gives(assessed_item: MakeItem,
                                                                  config: TraceConfig) -> None:
    load_cdns(actor=SYSTEM)
    merge_provider(ProviderIn(name="Telefonica DE", country="DE", cidrs=["5.4.0.0/14", "5.6.7.0/24"],
                              contacts=[ContactIn(email="desk@telefonica.example", language="de")]),
                   actor=SYSTEM, origin="t")
    one_by_one = [trace_item(assessed_item(host, path=f"/one/{n}"), now=NOW, config=config)
                  for n, host in enumerate(HOSTS)]
    items = [assessed_item(host, path=f"/batch/{n}") for n, host in enumerate(HOSTS)]
    batch = trace_items(items, now=NOW, config=config)
    assert [t.item_id for t in batch] == [i.pk for i in items]
    assert [_facts(t) for t in batch] == [_facts(t) for t in one_by_one]
    assert batch[1].addresses[0]["matched_by"] == "range 5.6.7.0/24"  # the narrowest range, as find_provider
    traced = AuditEvent.objects.filter(action__in=[actions.ITEM_TRACED, actions.ITEM_TRACE_FAILED],
                                       object_id__in=[str(i.pk) for i in items])
    assert sorted(int(e.object_id) for e in traced) == sorted(i.pk for i in items)
    # a transient failure (SERVFAIL) is scheduled for a retry, as a trace of its own would be
    assert TraceDue.objects.filter(item=items[HOSTS.index("broken.sim.test")]).exists()


def test_its_queries_do_not_grow_with_the_items(assessed_item: MakeItem, config: TraceConfig) -> None:
    hosts = ["google-dns.sim.test", "plain.sim.test", "disputed.sim.test"]
    trace_items([assessed_item(h, path="/warm") for h in hosts], now=NOW, config=config)  # the RDAP cache filled
    counts = []
    for n in (1, 2):
        items = [assessed_item(h, path=f"/{n}/{k}") for k in range(n) for h in hosts]
        with CaptureQueriesContext(connection) as context:
            trace_items(items, now=NOW, config=config)
        counts.append(len(context.captured_queries))
    assert counts[1] <= counts[0], counts


def test_the_newest_traces_of_several_items_are_each_items_own_newest(assessed_item: MakeItem) -> None:
    from datetime import timedelta

    items = [assessed_item("plain.sim.test", path=f"/newest/{n}") for n in range(5)]
    outcomes = [["ok", "nxdomain"], ["ok", "ok"], ["servfail"], [], ["nxdomain", "ok", "ok"]]
    for item, kinds in zip(items, outcomes, strict=True):
        for k, outcome in enumerate(kinds):  # two at the same moment: the higher id is the newer
            Trace.objects.create(item=item, traced_at=NOW + timedelta(hours=k // 2), host=item.host, outcome=outcome)
    ids = [item.pk for item in items]
    for chosen in (ids, ids[:3], ids[1:2], ids[2:]):
        located = Trace.objects.latest_located_many(chosen)
        assert {k: t.pk for k, t in located.items()} == {
            pk: t.pk for pk in chosen if (t := Trace.objects.latest_located(pk)) is not None}
        newest = Trace.objects.latest_many(chosen)
        assert {k: t.pk for k, t in newest.items()} == {
            pk: t.pk for pk in chosen if (t := Trace.objects.latest_for(pk)) is not None}
    assert set(Trace.objects.latest_located_many(ids)) == {ids[0], ids[1], ids[4]}  # not vacuous
    assert Trace.objects.latest_many(ids)[ids[0]].outcome == "nxdomain"
    # a filtered queryset keeps its own condition
    assert Trace.objects.filter(host="elsewhere").latest_located_many(ids) == {}
    assert Trace.objects.latest_located_many([]) == {}


def test_the_snapshots_are_one_insert_and_read_back_as_written(assessed_item: MakeItem, config: TraceConfig) -> None:
    """``prepared.insert``: one INSERT for the batch; every column, the JSON ones too, read back as written."""
    items = [assessed_item(host, path=f"/insert/{n}") for n, host in enumerate(HOSTS)]
    with CaptureQueriesContext(connection) as context:
        batch = trace_items(items, now=NOW, config=config)
    inserts = [q["sql"] for q in context.captured_queries if q["sql"].startswith('INSERT INTO "tracing_trace"')]
    assert len(inserts) == 1
    columns = [f.attname for f in Trace._meta.concrete_fields]
    stored = {t.pk: t for t in Trace.objects.filter(pk__in=[t.pk for t in batch])}
    assert [[getattr(stored[t.pk], c) for c in columns] for t in batch] == [[getattr(t, c) for c in columns]
                                                                            for t in batch]
