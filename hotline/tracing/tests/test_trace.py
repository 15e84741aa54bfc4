"""trace_item against the DNS stub and RDAP server on loopback: signals, CDN, origin, failures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, Actor
from hotline.reports.models import Item
from hotline.sim.dns import SimDns
from hotline.sim.rdap import SimRdap
from hotline.tracing.conf import TraceConfig
from hotline.tracing.importer import load_cdns
from hotline.tracing.models import AbuseContact, Provider, Trace, TraceDue, TraceOutcome
from hotline.tracing.schema import ContactIn, ProviderIn
from hotline.tracing.services import OriginError, merge_provider, record_origin, trace_item
from hotline.tracing.tests.conftest import QUICK_DNS, QUICK_RDAP, make_config

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MakeItem = Callable[..., Item]
ANALYST = Actor(label="user:test")


def test_it_places_an_item_from_three_signals_and_takes_provider_and_contact_from_rdap(
        assessed_item: MakeItem, config: TraceConfig) -> None:
    item = assessed_item("google-dns.sim.test")
    trace = trace_item(item, now=NOW, config=config)
    assert (trace.outcome, trace.country, trace.country_disputed, trace.changed) == ("ok", "US", False, False)
    assert trace.country_signals == {"iptocc": "US", "geoip2fast": "US", "rdap": "US"}
    assert [(a["ip"], a["asn"], a["as_name"]) for a in trace.addresses] == [
        ("8.8.8.8", 15169, "GOOGLE"), ("2001:4860:4860::8888", 15169, "GOOGLE")]
    assert trace.provider is not None and trace.provider.name == "Google LLC"
    assert trace.abuse_contact is not None
    assert (trace.abuse_contact.email, trace.abuse_contact.source) == ("network-abuse@google.example", "rdap")
    assert AuditEvent.objects.filter(action="provider.created_from_rdap", object_id=str(trace.provider.pk)).exists()
    event = AuditEvent.objects.filter(action="item.traced", object_id=str(item.pk)).get()
    assert event.after is not None and (event.after["trace"], event.after["country"]) == (trace.pk, "US")


def test_the_directory_beats_rdap_for_provider_and_contact(assessed_item: MakeItem, config: TraceConfig) -> None:
    merge_provider(ProviderIn(name="Telefonica DE", country="DE", cidrs=["5.4.0.0/14"],
                              contacts=[ContactIn(email="desk@telefonica.example", language="de")]),
                   actor=SYSTEM, origin="t")
    trace = trace_item(assessed_item("plain.sim.test"), now=NOW, config=config)
    assert trace.country == "DE" and trace.provider is not None and trace.provider.name == "Telefonica DE"
    assert trace.abuse_contact is not None and trace.abuse_contact.email == "desk@telefonica.example"
    assert trace.addresses[0]["matched_by"] == "range 5.4.0.0/14"
    assert not Provider.objects.filter(name="Telefonica Germany").exists()  # no RDAP-made duplicate


def test_a_directory_provider_without_contacts_gets_the_rdap_one(assessed_item: MakeItem,
                                                                 config: TraceConfig) -> None:
    merge_provider(ProviderIn(name="Bare", asns=[15169]), actor=SYSTEM, origin="t")
    trace = trace_item(assessed_item("google-dns.sim.test"), now=NOW, config=config)
    assert trace.provider is not None and trace.provider.name == "Bare"
    assert trace.abuse_contact is not None and trace.abuse_contact.provider == trace.provider
    assert trace.abuse_contact.source == AbuseContact.Source.RDAP


def test_disagreeing_signals_decide_by_majority_and_flag_the_item(assessed_item: MakeItem,
                                                                  config: TraceConfig) -> None:
    trace = trace_item(assessed_item("disputed.sim.test"), now=NOW, config=config)
    assert trace.country_signals == {"iptocc": "DE", "geoip2fast": "FI", "rdap": "DE"}
    assert (trace.country, trace.country_disputed) == ("DE", True)
    relabelled = trace_item(assessed_item("relabelled.sim.test"), now=NOW, config=config)
    assert relabelled.country_signals == {"iptocc": "BE", "geoip2fast": "BE", "rdap": "NL"}
    assert (relabelled.country, relabelled.country_disputed) == ("BE", True)


def test_a_cdn_is_recognised_and_its_contact_gets_the_notice(assessed_item: MakeItem, config: TraceConfig) -> None:
    load_cdns(actor=SYSTEM)
    trace = trace_item(assessed_item("www.behind-cdn.sim.test"), now=NOW, config=config)
    cloudflare = Provider.objects.get(name="Cloudflare")
    assert trace.cname_chain == ["shop.cdn.sim.test", "edge.cdn.sim.test"]
    assert (trace.cdn, trace.provider, trace.country) == (cloudflare, cloudflare, "US")
    assert trace.abuse_contact is not None and trace.abuse_contact.email == "abuse@cloudflare.com"
    assert all(a["is_cdn"] and a["matched_by"] == "asn AS13335" for a in trace.addresses)


def test_an_origin_learned_later_places_the_item_behind_the_cdn(assessed_item: MakeItem,
                                                                config: TraceConfig) -> None:
    load_cdns(actor=SYSTEM)
    item = assessed_item("www.behind-cdn.sim.test")
    first = trace_item(item, now=NOW, config=config)
    with pytest.raises(OriginError, match="not a public address"):
        record_origin(item, "10.0.0.8", actor=ANALYST, now=NOW, config=config)
    with pytest.raises(OriginError, match=r"origin address: 'origin\.example' is not an IP address"):
        record_origin(item, "origin.example", actor=ANALYST, now=NOW, config=config)
    second = record_origin(item, " 95.216.0.1 ", actor=ANALYST, now=NOW + timedelta(hours=1), config=config)
    assert (second.origin_address, second.cdn, second.country, second.changed) == (
        "95.216.0.1", first.cdn, "DE", True)
    assert second.provider is not None and second.provider.name == "Hetzner Online GmbH"
    assert second.abuse_contact is not None and second.abuse_contact.email == "abuse@hetzner.example"
    assert [a["role"] for a in second.addresses] == ["address", "address", "origin"]
    assert AuditEvent.objects.filter(action="item.origin_recorded", actor_label="user:test").count() == 1
    # The next re-trace still resolves to the CDN: the origin is carried into the new snapshot.
    third = trace_item(item, now=NOW + timedelta(hours=2), config=config)
    assert (third.origin_address, third.country, third.changed) == ("95.216.0.1", "DE", False)
    assert Trace.objects.filter(item=item).count() == 3  # history kept, never updated in place


def test_an_origin_needs_an_earlier_successful_trace(assessed_item: MakeItem, config: TraceConfig) -> None:
    with pytest.raises(OriginError, match="no successful trace"):
        record_origin(assessed_item("plain.sim.test"), "8.8.8.8", actor=ANALYST, now=NOW, config=config)


def test_a_move_to_another_country_is_flagged(assessed_item: MakeItem, config: TraceConfig, sim_dns: SimDns) -> None:
    sim_dns.set("moving.sim.test", A=["5.6.7.8"])
    item = assessed_item("moving.sim.test")
    first = trace_item(item, now=NOW, config=config)
    same = trace_item(item, now=NOW + timedelta(hours=1), config=config)
    sim_dns.set("moving.sim.test", A=["8.8.8.8"])
    moved = trace_item(item, now=NOW + timedelta(hours=2), config=config)
    assert (first.country, first.changed, same.changed) == ("DE", False, False)
    assert (moved.country, moved.changed) == ("US", True)
    assert Trace.objects.latest_for(item.pk) == moved


@pytest.mark.parametrize(("host", "outcome"), [
    ("gone.sim.test", TraceOutcome.NXDOMAIN), ("nothing.sim.test", TraceOutcome.NO_ADDRESS),
    ("bad..name.sim.test", TraceOutcome.ERROR)])
def test_permanent_dns_failures_are_recorded_without_retry(assessed_item: MakeItem, config: TraceConfig,
                                                           host: str, outcome: str) -> None:
    item = assessed_item("placeholder.sim.test")
    Item.objects.filter(pk=item.pk).update(host=host)  # a host the URL canonicaliser would not let through
    item.refresh_from_db()
    trace = trace_item(item, now=NOW, config=config)
    assert (trace.outcome, trace.country, trace.provider) == (outcome, "", None)
    assert trace.error
    assert not TraceDue.objects.filter(item=item).exists()
    assert AuditEvent.objects.filter(action="item.trace_failed", object_id=str(item.pk)).count() == 1


def test_transient_dns_failures_come_back_with_backoff_then_stop(assessed_item: MakeItem, sim_dns: SimDns,
                                                                 sim_rdap: SimRdap) -> None:
    config = make_config(sim_dns, sim_rdap, max_attempts=3)
    item = assessed_item("broken.sim.test")
    first = trace_item(item, now=NOW, config=config)
    due = TraceDue.objects.get(item=item)
    assert (first.outcome, due.attempts, due.due_at, due.last_outcome) == (
        "servfail", 1, NOW + timedelta(minutes=5), "servfail")
    trace_item(item, now=due.due_at, config=config)
    due.refresh_from_db()
    assert (due.attempts, due.due_at) == (2, NOW + timedelta(minutes=5) + timedelta(minutes=30))
    trace_item(item, now=due.due_at, config=config)
    assert not TraceDue.objects.filter(item=item).exists()  # the third failure is the last
    assert Trace.objects.filter(item=item, outcome="servfail").count() == 3


def test_a_timeout_is_recorded_and_retried(assessed_item: MakeItem, sim_dns: SimDns, sim_rdap: SimRdap) -> None:
    config = make_config(sim_dns, sim_rdap, dns_limit=QUICK_DNS)  # the silent name never answers
    trace = trace_item(assessed_item("slow.sim.test"), now=NOW, config=config)
    assert trace.outcome == TraceOutcome.TIMEOUT
    assert TraceDue.objects.filter(item=trace.item, due_at=NOW + timedelta(minutes=5)).exists()


def test_a_success_clears_a_pending_retry(assessed_item: MakeItem, config: TraceConfig, sim_dns: SimDns) -> None:
    sim_dns.fail("flaky.sim.test")
    item = assessed_item("flaky.sim.test")
    trace_item(item, now=NOW, config=config)
    assert TraceDue.objects.filter(item=item).exists()
    sim_dns.recover("flaky.sim.test")
    sim_dns.set("flaky.sim.test", A=["8.8.8.8"])
    assert trace_item(item, now=NOW + timedelta(minutes=5), config=config).outcome == "ok"
    assert not TraceDue.objects.filter(item=item).exists()


def test_an_address_in_no_data_set_is_a_clear_outcome(assessed_item: MakeItem, config: TraceConfig) -> None:
    trace = trace_item(assessed_item("private.sim.test"), now=NOW, config=config)
    assert (trace.outcome, trace.country, trace.country_signals) == (TraceOutcome.UNLOCATED, "", {})
    assert "no data set places 10.1.2.3" in trace.error
    assert trace.addresses[0]["rdap"]["outcome"] == "no_server"  # nobody was asked about private space


def test_a_malformed_or_slow_rdap_answer_leaves_two_signals_and_a_note(assessed_item: MakeItem, config: TraceConfig,
                                                                       sim_dns: SimDns, sim_rdap: SimRdap) -> None:
    trace = trace_item(assessed_item("bad-rdap.sim.test"), now=NOW, config=config)
    assert (trace.outcome, trace.country, trace.country_disputed) == ("ok", "BE", False)
    assert trace.country_signals == {"iptocc": "BE", "geoip2fast": "BE"}
    assert "RDAP for 193.190.0.1: malformed: (body): not JSON" in trace.error
    assert "no abuse contact" in trace.error and trace.abuse_contact is None
    quick = make_config(sim_dns, sim_rdap, rdap_limit=QUICK_RDAP)  # the slow network answers after 2 s
    slow = trace_item(assessed_item("slow-rdap.sim.test"), now=NOW, config=quick)
    assert (slow.outcome, slow.country) == ("ok", "BE")
    assert "RDAP for 81.82.0.1: fetch_error" in slow.error


def test_a_single_signal_is_not_enough_to_route_without_a_look(assessed_item: MakeItem, config: TraceConfig,
                                                               sim_dns: SimDns) -> None:
    only_rdap = TraceConfig(resolver=config.resolver, rdap=config.rdap, sources=(), asn=config.asn)
    trace = trace_item(assessed_item("google-dns.sim.test", path="/single"), now=NOW, config=only_rdap)
    # Two addresses, each placed by RDAP only: two agreeing signals, not disputed.
    assert (trace.country, trace.country_disputed) == ("US", False)
    sim_dns.set("single.sim.test", A=["8.8.8.8"])
    single = trace_item(assessed_item("single.sim.test"), now=NOW, config=only_rdap)
    assert (single.country, single.country_disputed, single.country_signals) == ("US", True, {"rdap": "US"})
