"""The RDAP client: bootstrap, parsing (nested abuse, hostile JSON), the loopback server, the cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.lib.http import FetchPolicy
from hotline.lib.rdap import RdapClient, RdapNetwork, RdapOutcome, RdapParseError, parse_ip_network
from hotline.sim.rdap import SimNetwork, SimRdap, network_json
from hotline.tracing.conf import bootstrap
from hotline.tracing.models import RdapCache
from hotline.tracing.rdapcache import DbRdapCache, purge_expired
from hotline.tracing.tests.conftest import QUICK_RDAP, RDAP_LIMIT

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _entity(roles: list[str], email: str = "", fn: str = "x", **extra: Any) -> dict[str, Any]:
    props: list[Any] = [["version", {}, "text", "4.0"], ["fn", {}, "text", fn]]
    if email:
        props.append(["email", {}, "text", email])
    return {"objectClassName": "entity", "roles": roles, "vcardArray": ["vcard", props], **extra}


def _network(**extra: Any) -> dict[str, Any]:
    return {"objectClassName": "ip network", "startAddress": "192.0.2.0", "endAddress": "192.0.2.255",
            "handle": "NET-TEST", "name": "TEST-NET", **extra}


# ---------------------------------------------------------------------------------- bootstrap


def test_the_shipped_bootstrap_sends_each_address_to_its_registry() -> None:
    data = bootstrap()
    assert data.ip_urls("8.8.8.8")[0] == "https://rdap.arin.net/registry/"
    assert data.ip_urls("193.190.0.1") == ("https://rdap.db.ripe.net/",)
    assert data.ip_urls("2001:4860::1")[0] == "https://rdap.arin.net/registry/"
    assert data.ip_urls("2a00:1450::1") == ("https://rdap.db.ripe.net/",)
    assert data.ip_urls("41.0.0.1")[0] == "https://rdap.afrinic.net/rdap/"
    assert data.asn_urls(13335)[0] == "https://rdap.arin.net/registry/"
    assert data.asn_urls(2611) == ("https://rdap.db.ripe.net/",)
    assert data.domain_urls("www.example.com") == ("https://rdap.verisign.com/com/v1/",)
    assert data.ip_urls("10.0.0.1") == ()


def test_the_client_prefers_https_and_the_override_wins() -> None:
    client = RdapClient(bootstrap(), FetchPolicy())
    assert client.url_for("8.8.8.8") == "https://rdap.arin.net/registry/ip/8.8.8.8"
    assert RdapClient(bootstrap(), FetchPolicy(), base_url="http://127.0.0.1:9/").url_for("8.8.8.8") == (
        "http://127.0.0.1:9/ip/8.8.8.8")


# ------------------------------------------------------------------------------------ parsing


def test_it_finds_the_abuse_contact_nested_in_the_registrant() -> None:
    abuse = _entity(["abuse"], "Abuse@Hosting.example", fn="Abuse desk")
    data = _network(country="nl", entities=[_entity(["registrant"], fn="Hosting B.V.", entities=[abuse])])
    network = parse_ip_network(data)
    assert network.abuse_emails == ("abuse@hosting.example",)
    assert (network.abuse_name, network.registrant, network.country) == ("Abuse desk", "Hosting B.V.", "NL")
    assert (network.start_address, network.end_address, network.handle) == ("192.0.2.0", "192.0.2.255", "NET-TEST")


def test_the_shallowest_abuse_entity_wins() -> None:
    deep = _entity(["abuse"], "deep@reseller.example")
    data = _network(entities=[_entity(["abuse", "technical"], "direct@isp.example"),
                              _entity(["registrant"], entities=[deep])])
    assert parse_ip_network(data).abuse_emails == ("direct@isp.example",)


def test_a_network_without_abuse_contact_still_parses() -> None:
    network = parse_ip_network(_network(entities=[_entity(["technical"], "noc@isp.example")]))
    assert network.abuse_emails == () and network.country == ""


@pytest.mark.parametrize(("data", "field"), [
    ([], "(root)"),
    ({"errorCode": 404, "title": "Not Found"}, "errorCode"),
    ({"objectClassName": "domain", "startAddress": "192.0.2.0", "endAddress": "192.0.2.9"}, "objectClassName"),
    ({"objectClassName": "ip network", "endAddress": "192.0.2.9"}, "startAddress"),
    ({"startAddress": "192.0.2.0", "endAddress": 7}, "endAddress"),
    ({"startAddress": "192.0.2.0", "endAddress": "2001:db8::1"}, "endAddress"),
    ({"startAddress": "192.0.2.9", "endAddress": "192.0.2.0"}, "endAddress"),
    ({"startAddress": "not an ip", "endAddress": "192.0.2.0"}, "startAddress"),
])
def test_malformed_answers_name_the_field(data: object, field: str) -> None:
    with pytest.raises(RdapParseError) as caught:
        parse_ip_network(data)
    assert caught.value.field == field


def test_hostile_vcards_and_deep_nesting_are_survived() -> None:
    nested: dict[str, Any] = _entity(["abuse"], "bottom@deep.example")
    for _ in range(500):
        nested = {"roles": ["registrant"], "entities": [nested]}
    data = _network(country="USA", entities=[
        {"roles": "abuse", "vcardArray": "vcard"},
        {"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", "not an address"], ["email"], 7]]},
        {"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", ["listed@isp.example"]]]]},
        nested,
    ])
    network = parse_ip_network(data)
    assert network.abuse_emails == ("listed@isp.example",)
    assert network.country == ""  # "USA" is not a two-letter code


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40,
)
KEYS = st.sampled_from(["objectClassName", "startAddress", "endAddress", "entities", "roles", "vcardArray",
                        "country", "handle", "name", "arin_originas0_originautnums", "errorCode"])
RDAPISH = st.recursive(
    st.none() | st.integers() | st.text(max_size=20) | st.sampled_from(
        ["ip network", "abuse", "vcard", "email", "192.0.2.1", "2001:db8::1", "a@b.example"]),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=60,
)


@settings(max_examples=300)
@given(st.one_of(JSON, RDAPISH))
def test_arbitrary_json_never_crashes_the_parser(data: object) -> None:
    try:
        network = parse_ip_network(data)
    except RdapParseError as exc:
        assert exc.field
    else:
        assert isinstance(network, RdapNetwork)
        assert all("@" in e for e in network.abuse_emails)


@settings(max_examples=200)
@given(entities=st.lists(RDAPISH, max_size=6), country=JSON, handle=JSON)
def test_any_entities_around_a_valid_range_still_give_the_range(entities: list[object], country: object,
                                                                handle: object) -> None:
    network = parse_ip_network(_network(entities=entities, country=country, handle=handle))
    assert (network.start_address, network.end_address) == ("192.0.2.0", "192.0.2.255")
    assert len(network.country) in (0, 2)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_arbitrary_bodies_become_a_typed_outcome(body: bytes) -> None:
    result = RdapClient._parse("192.0.2.1", "http://rdap.example/ip/192.0.2.1", body)
    assert result.outcome in (RdapOutcome.OK, RdapOutcome.MALFORMED)


# ------------------------------------------------------------------------- the loopback server


@pytest.fixture
def client(sim_rdap: SimRdap) -> RdapClient:
    """A generous time limit: a busy machine must not turn an answer into a timeout."""
    return RdapClient(bootstrap(), FetchPolicy(allow_loopback=True, total_timeout=RDAP_LIMIT),
                      base_url=sim_rdap.base_url)


def test_it_reads_a_network_from_the_server(client: RdapClient) -> None:
    result = client.lookup_ip("8.8.8.8", now=NOW)
    assert result.outcome == RdapOutcome.OK and result.network is not None
    assert (result.network.country, result.network.abuse_emails, result.network.origin_asns) == (
        "US", ("network-abuse@google.example",), (15169,))


@pytest.mark.parametrize(("ip", "outcome", "retryable", "message"), [
    ("193.190.0.1", RdapOutcome.MALFORMED, False, "(body): not JSON"),
    ("1.2.3.4", RdapOutcome.NOT_FOUND, False, "knows no network"),
    ("not-an-ip", RdapOutcome.MALFORMED, False, "address: not an IP address"),
])
def test_failures_are_typed_outcomes(client: RdapClient, ip: str, outcome: RdapOutcome, retryable: bool,
                                     message: str) -> None:
    result = client.lookup_ip(ip, now=NOW)
    assert (result.outcome, result.retryable, result.network) == (outcome, retryable, None)
    assert message in result.error


def test_a_slow_server_is_a_retryable_fetch_error(sim_rdap: SimRdap) -> None:
    quick = RdapClient(bootstrap(), FetchPolicy(allow_loopback=True, total_timeout=QUICK_RDAP),
                       base_url=sim_rdap.base_url)
    result = quick.lookup_ip("81.82.0.1", now=NOW)  # its network answers after 2 s, past the 1 s limit
    assert (result.outcome, result.retryable, result.network) == (RdapOutcome.FETCH_ERROR, True, None)
    assert "time limit" in result.error


def test_a_server_error_and_a_missing_range_are_reported(sim_rdap: SimRdap, client: RdapClient) -> None:
    sim_rdap.add(SimNetwork("198.51.100.0/25", mode="error"))
    sim_rdap.add(SimNetwork("198.51.100.128/25", mode="no_range"))
    failed = client.lookup_ip("198.51.100.1", now=NOW)
    assert (failed.outcome, failed.error, failed.retryable) == (RdapOutcome.HTTP_ERROR, "HTTP 503", True)
    missing = client.lookup_ip("198.51.100.200", now=NOW)
    assert (missing.outcome, missing.error) == (RdapOutcome.MALFORMED, "startAddress: missing or not a string")


def test_an_answer_for_another_range_is_refused() -> None:
    body = json.dumps(network_json(SimNetwork("203.0.113.0/24", country="NL"))).encode()
    result = RdapClient._parse("8.8.8.8", "http://rdap.example/ip/8.8.8.8", body)
    assert result.outcome == RdapOutcome.MALFORMED and "does not contain 8.8.8.8" in result.error


def test_an_oversized_answer_is_cut_off(sim_rdap: SimRdap) -> None:
    tight = RdapClient(bootstrap(), FetchPolicy(allow_loopback=True, total_timeout=RDAP_LIMIT, max_body_bytes=200),
                       base_url=sim_rdap.base_url)
    result = tight.lookup_ip("8.8.8.8", now=NOW)
    assert result.outcome == RdapOutcome.FETCH_ERROR and "exceeds 200" in result.error


# --------------------------------------------------------------------------------------- cache


@pytest.mark.django_db
def test_answers_are_cached_per_range_until_the_ttl(sim_rdap: SimRdap) -> None:
    client = RdapClient(bootstrap(), FetchPolicy(allow_loopback=True, total_timeout=RDAP_LIMIT),
                        base_url=sim_rdap.base_url, cache=DbRdapCache(timedelta(hours=24)))

    def asked() -> int:
        return sum(1 for p in sim_rdap.requests if p.startswith("/ip/8.8.8."))

    before = asked()
    first = client.lookup_ip("8.8.8.8", now=NOW)
    again = client.lookup_ip("8.8.8.4", now=NOW + timedelta(hours=23))  # same range: no query
    assert (first.from_cache, again.from_cache, asked() - before) == (False, True, 1)
    assert again.network == first.network
    expired = client.lookup_ip("8.8.8.8", now=NOW + timedelta(hours=24, seconds=1))
    assert (expired.from_cache, asked() - before) == (False, 2)
    assert RdapCache.objects.count() == 1  # the refreshed answer replaced the old row
    assert purge_expired(NOW + timedelta(days=3)) == 1


@pytest.mark.django_db
def test_the_narrowest_cached_range_wins() -> None:
    cache = DbRdapCache(timedelta(hours=1))
    cache.put(RdapNetwork("8.0.0.0", "8.255.255.255", name="WIDE"), NOW)
    cache.put(RdapNetwork("8.8.8.0", "8.8.8.255", name="NARROW"), NOW)
    found = cache.get("8.8.8.8", NOW)
    assert found is not None and found.name == "NARROW"
    other = cache.get("8.9.0.1", NOW)
    assert other is not None and other.name == "WIDE"
    assert cache.get("2001:db8::1", NOW) is None
    assert DbRdapCache(timedelta(0)).get("8.8.8.8", NOW + timedelta(hours=2)) is None
