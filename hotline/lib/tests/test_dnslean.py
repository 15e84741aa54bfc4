"""The lean DNS read gives what dnspython's resolver gives, or nothing (dnspython then reads the answer)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.conftest import TIMING_HEALTH_CHECKS
from hotline.lib import dnslean, dnsresolve
from hotline.lib.dnsresolve import ResolverConfig, resolve_host
from hotline.sim.dns import SimDns

NAMES = ["a.sim.test", "B.sim.test", "c.SIM.test", "d.sim.test", "e-1.sim.test", "f_2.sim.test"]
V4 = ["198.51.100.7", "203.0.113.9", "192.0.2.1"]
V6 = ["2001:db8::1", "::ffff:1.2.3.4", "2001:db8:0:0:1::", "::1.2.3.4", "fe80::1:0:0:1"]


def reference(wire: bytes, query: dns.message.Message) -> dnslean.Lean | None:
    """What dnspython's resolver makes of ``wire`` as the answer to ``query`` (None: it would not take it)."""
    try:
        response = dns.message.from_wire(wire)
    except Exception:
        return None
    if not isinstance(response, dns.message.QueryMessage) or not query.is_response(response) \
            or response.flags & dns.flags.TC:
        return None
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return None
    try:
        result = response.resolve_chaining()
    except Exception:
        return None
    found = tuple(dict.fromkeys(str(r.address) for r in result.answer)) if result.answer is not None else ()
    cnames = tuple(str(rrset[0].target).rstrip(".") for rrset in result.cnames if len(rrset))
    return dnslean.Lean(response.rcode() == dns.rcode.NXDOMAIN, found, cnames)


def response_for(query: dns.message.Message, records: list[tuple[str, str, str]], rcode: dns.rcode.Rcode, *,
                 extra: str = "") -> bytes:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    for owner, kind, value in records:
        response.answer.append(dns.rrset.from_text(owner + ".", 60, "IN", kind, value))
    if extra == "soa":
        soa = "ns.sim.test. h.sim.test. 1 2 3 4 5"
        response.authority.append(dns.rrset.from_text("sim.test.", 60, "IN", "SOA", soa))
    elif extra == "glue":
        response.additional.append(dns.rrset.from_text("ns.sim.test.", 60, "IN", "A", "192.0.2.53"))
    elif extra == "tc":
        response.flags |= dns.flags.TC
    elif extra == "txt":
        response.answer.append(dns.rrset.from_text(NAMES[0] + ".", 60, "IN", "TXT", '"x"'))
    return response.to_wire()


record = st.one_of(
    st.tuples(st.sampled_from(NAMES), st.just("A"), st.sampled_from(V4)),
    st.tuples(st.sampled_from(NAMES), st.just("AAAA"), st.sampled_from(V6)),
    st.tuples(st.sampled_from(NAMES), st.just("CNAME"), st.sampled_from(NAMES).map(lambda n: n + ".")),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[*TIMING_HEALTH_CHECKS])
@given(records=st.lists(record, max_size=8), qname=st.sampled_from(NAMES), qtype=st.sampled_from(["A", "AAAA"]),
       rcode=st.sampled_from([dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED]),
       extra=st.sampled_from(["", "", "", "soa", "glue", "tc", "txt"]), data=st.data())
def test_it_reads_an_answer_as_dnspython_does_or_leaves_it_to_dnspython(
        records: list[tuple[str, str, str]], qname: str, qtype: str, rcode: dns.rcode.Rcode, extra: str,
        data: st.DataObject) -> None:
    query = dns.message.make_query(qname.lower(), qtype)
    labels = dns.name.from_text(qname.lower()).labels
    sent = dnslean.query_wire(query.id, labels, dns.rdatatype.from_text(qtype))
    assert sent == query.to_wire()  # the very query dnspython's resolver sends
    wire = response_for(query, records, rcode, extra=extra)
    cut = data.draw(st.sampled_from(["whole", "whole", "truncated", "flipped", "junk"]))
    if cut == "truncated":
        wire = wire[:data.draw(st.integers(0, len(wire) - 1))]
    elif cut == "flipped" and len(wire) > 12:
        at = data.draw(st.integers(0, len(wire) - 1))
        wire = wire[:at] + bytes([wire[at] ^ data.draw(st.integers(1, 255))]) + wire[at + 1:]
    elif cut == "junk":
        wire += b"\0"
    try:
        lean = dnslean.parse(wire, sent)
    except Exception:
        lean = None
    expected = reference(wire, query)
    if lean is not None:
        assert lean == expected
    targets: dict[str, set[str]] = {}
    for owner, kind, value in records:
        if kind == "CNAME":
            targets.setdefault(owner.lower(), set()).add(value)
    plain = cut == "whole" and not extra and rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) \
        and all(len(found) == 1 for found in targets.values())  # two CNAMEs for a name: dnspython keeps the last
    if plain and expected is not None and len(expected.cnames) < dnslean.MAX_CHAIN:
        assert lean == expected  # a plain answer is read lean, not left to dnspython


def test_it_follows_compression_pointers_only_backwards() -> None:
    query = dns.message.make_query("a.sim.test", "A")
    sent = query.to_wire()
    answer = bytes.fromhex("c00c 0001 0001 0000003c 0004 c6336407".replace(" ", ""))
    good = sent[:2] + bytes.fromhex("8180 0001 0001 0000 0000") + sent[12:] + answer
    assert dnslean.parse(good, sent) == dnslean.Lean(False, ("198.51.100.7",), ())
    forward = good[:len(sent)] + bytes.fromhex("c0ff") + good[len(sent) + 2:]
    with pytest.raises(dnslean._Unusual):
        dnslean.parse(forward, sent)
    loop = good[:len(sent)] + bytes([0xC0, len(sent)]) + good[len(sent) + 2:]
    with pytest.raises(dnslean._Unusual):
        dnslean.parse(loop, sent)


def test_it_leaves_a_name_dnspython_writes_otherwise_to_dnspython() -> None:
    assert dnslean.query_wire(1, dns.name.from_text("a\\.b.sim.test").labels, 1) is None
    assert dnslean.query_wire(1, dns.name.from_text("*.sim.test").labels, 1) is None
    assert dnslean.query_wire(1, (b"a", b"sim", b"test", b""), 1) is not None


ZONES = st.dictionaries(
    st.sampled_from([n.lower() for n in NAMES]),
    st.one_of(st.fixed_dictionaries({"CNAME": st.sampled_from(NAMES)}),
              st.fixed_dictionaries({"A": st.lists(st.sampled_from(V4), max_size=3),
                                     "AAAA": st.lists(st.sampled_from(V6), max_size=2)})),
    max_size=6)


@pytest.fixture(scope="module")
def server() -> Iterator[SimDns]:
    with SimDns({}, servfail={"d.sim.test"}) as dns_server:
        yield dns_server


@settings(max_examples=150, deadline=None,
          suppress_health_check=[*TIMING_HEALTH_CHECKS, HealthCheck.function_scoped_fixture])
@given(zone=ZONES, host=st.sampled_from([*NAMES, "gone.sim.test", "1.2.3.4"]))
def test_it_resolves_a_host_as_dnspython_alone_does(server: SimDns, zone: dict[str, dict[str, Any]],
                                                     host: str) -> None:
    for name in list(server._zone):
        server.remove(name)
    for name, records in zone.items():
        server.set(name, **records)
    config = ResolverConfig(nameservers=(server.nameserver,), timeout=1.0, lifetime=2.0)
    lean = resolve_host(host, config=config)
    original = dnslean.ask
    dnslean.ask = lambda *args, **kwargs: None
    try:
        alone = resolve_host(host, config=config)
    finally:
        dnslean.ask = original
    # the server shuffles each answer's records (as dnspython writes them): the order is compared on the wire above
    assert replace(lean, addresses=tuple(sorted(lean.addresses))) == replace(
        alone, addresses=tuple(sorted(alone.addresses)))


def test_it_asks_the_server_every_time(server: SimDns) -> None:
    """No cache: a host that moves between two resolutions a moment apart is seen where it is now."""
    config = ResolverConfig(nameservers=(server.nameserver,))
    server.set("moving.sim.test", A=["198.51.100.7"])
    assert resolve_host("moving.sim.test", config=config).addresses == ("198.51.100.7",)
    server.set("moving.sim.test", A=["203.0.113.9"])
    assert resolve_host("moving.sim.test", config=config).addresses == ("203.0.113.9",)


def test_a_silent_server_costs_the_lifetime_not_more(server: SimDns) -> None:
    config = ResolverConfig(nameservers=(server.nameserver,), timeout=0.3, lifetime=0.6)
    server._silent.add("slow.sim.test")
    began = time.monotonic()
    found = resolve_host("slow.sim.test", config=config)
    assert found.outcome == dnsresolve.DnsOutcome.TIMEOUT
    assert time.monotonic() - began < 1.0
