"""Resolving hosts against the DNS stub on loopback: every outcome typed, none raised."""

from __future__ import annotations

import dns.message
import dns.query
import pytest

from hotline.lib.dnsresolve import DnsOutcome, ResolverConfig, parse_resolvers, resolve_host
from hotline.sim.dns import SimDns
from hotline.tracing.tests.conftest import DNS_LIMIT, QUICK_DNS


@pytest.fixture
def resolver(sim_dns: SimDns) -> ResolverConfig:
    """Generous limits: the stub answers at once, but a busy machine must not turn an answer into a timeout."""
    return ResolverConfig(nameservers=(sim_dns.nameserver,), timeout=DNS_LIMIT / 2, lifetime=DNS_LIMIT)


def test_it_returns_a_and_aaaa_addresses(resolver: ResolverConfig) -> None:
    result = resolve_host("google-dns.sim.test", config=resolver)
    assert result.outcome == DnsOutcome.OK
    assert result.addresses == ("8.8.8.8", "2001:4860:4860::8888")
    assert result.cname_chain == ()


def test_it_keeps_the_cname_chain(resolver: ResolverConfig) -> None:
    result = resolve_host("WWW.Behind-CDN.sim.test.", config=resolver)
    assert result.outcome == DnsOutcome.OK
    assert result.cname_chain == ("shop.cdn.sim.test", "edge.cdn.sim.test")
    assert set(result.addresses) == {"104.16.1.1", "2606:4700::1"}


def test_it_reports_nxdomain(resolver: ResolverConfig) -> None:
    result = resolve_host("no-such-site.sim.test", config=resolver)
    assert (result.outcome, result.addresses, result.transient) == (DnsOutcome.NXDOMAIN, (), False)
    assert "does not exist" in result.error


def test_it_reports_servfail_as_transient(resolver: ResolverConfig) -> None:
    result = resolve_host("broken.sim.test", config=resolver)
    assert (result.outcome, result.transient) == (DnsOutcome.SERVFAIL, True)


def test_it_gives_up_on_a_silent_server_within_the_lifetime(sim_dns: SimDns) -> None:
    quick = ResolverConfig(nameservers=(sim_dns.nameserver,), timeout=QUICK_DNS / 2, lifetime=QUICK_DNS)
    before = len(sim_dns.queries)
    result = resolve_host("slow.sim.test", config=quick)
    assert (result.outcome, result.transient) == (DnsOutcome.TIMEOUT, True)
    assert "no answer within" in result.error
    asked = {qtype for qname, qtype in sim_dns.queries[before:] if qname == "slow.sim.test"}
    assert asked == {"A"}  # AAAA is not asked after a timeout (that would double the wait)


def test_it_reports_a_name_without_addresses(resolver: ResolverConfig) -> None:
    assert resolve_host("nothing.sim.test", config=resolver).outcome == DnsOutcome.NO_ADDRESS


def test_it_skips_dns_for_ip_literals(sim_dns: SimDns, resolver: ResolverConfig) -> None:
    before = len(sim_dns.queries)
    assert resolve_host("[2001:db8::1]", config=resolver).addresses == ("2001:db8::1",)
    assert resolve_host("192.0.2.7", config=resolver).addresses == ("192.0.2.7",)
    assert len(sim_dns.queries) == before


def test_it_records_an_invalid_name_as_an_error(resolver: ResolverConfig) -> None:
    result = resolve_host("bad..name.sim.test", config=resolver)
    assert result.outcome == DnsOutcome.ERROR and result.error.startswith("host:")


def test_it_follows_a_cname_to_a_missing_name_as_nxdomain(sim_dns: SimDns, resolver: ResolverConfig) -> None:
    sim_dns.set("dangling.sim.test", CNAME="gone.sim.test")
    result = resolve_host("dangling.sim.test", config=resolver)
    assert (result.outcome, result.cname_chain) == (DnsOutcome.NXDOMAIN, ("gone.sim.test",))


def test_the_stub_answers_over_tcp_too(sim_dns: SimDns) -> None:
    query = dns.message.make_query("google-dns.sim.test", "A")
    response = dns.query.tcp(query, sim_dns.address, port=sim_dns.port, timeout=2)
    assert [r.to_text() for r in response.answer[0]] == ["8.8.8.8"]


def test_it_parses_resolver_settings() -> None:
    assert parse_resolvers(" 127.0.0.1:5353, [::1]:53 ,9.9.9.9") == (
        ("127.0.0.1", 5353), ("::1", 53), ("9.9.9.9", 53))
    assert parse_resolvers("") == ()
    with pytest.raises(ValueError, match=r"'dns\.example:53': not an IP address"):
        parse_resolvers("dns.example:53")
    with pytest.raises(ValueError, match="bad port"):
        parse_resolvers("127.0.0.1:99999")
