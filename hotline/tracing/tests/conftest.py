"""A simulated DNS server and RDAP server on loopback, a trace configuration that uses them, and
assessed items. Addresses in the fake zone are public-looking; they are only looked up offline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.lib.dnsresolve import ResolverConfig
from hotline.lib.geo import AsnSource, country_sources
from hotline.lib.http import FetchPolicy
from hotline.lib.rdap import RdapClient
from hotline.reports.models import Item, ItemStatus
from hotline.sim.dns import SimDns
from hotline.sim.rdap import SimNetwork, SimRdap
from hotline.tracing.conf import TraceConfig, bootstrap
from hotline.tracing.providers import as_numbers
from hotline.tracing.rdapcache import DbRdapCache

ZONE: dict[str, dict[str, Any]] = {
    "google-dns.sim.test": {"A": ["8.8.8.8"], "AAAA": ["2001:4860:4860::8888"]},
    "plain.sim.test": {"A": ["5.6.7.8"]},
    "www.behind-cdn.sim.test": {"CNAME": "shop.cdn.sim.test"},
    "shop.cdn.sim.test": {"CNAME": "edge.cdn.sim.test"},
    "edge.cdn.sim.test": {"A": ["104.16.1.1"], "AAAA": ["2606:4700::1"]},
    "disputed.sim.test": {"A": ["95.216.0.1"]},
    "relabelled.sim.test": {"A": ["194.78.0.1"]},
    "private.sim.test": {"A": ["10.1.2.3"]},
    "bad-rdap.sim.test": {"A": ["193.190.0.1"]},
    "slow-rdap.sim.test": {"A": ["81.82.0.1"]},
    "nothing.sim.test": {},
}
NETWORKS = [
    SimNetwork("8.8.8.0/24", country="US", name="GOGL", registrant="Google LLC", abuse="network-abuse@google.example",
               origin_asns=(15169,)),
    SimNetwork("2001:4860::/32", country="US", name="GOOGLE-IPV6", registrant="Google LLC",
               abuse="network-abuse@google.example"),
    SimNetwork("5.6.0.0/16", country="DE", name="TDE-NET", registrant="Telefonica Germany",
               abuse="abuse@telefonica.example", nested=False),
    SimNetwork("95.216.0.0/16", country="DE", name="HETZNER-NET", registrant="Hetzner Online GmbH",
               abuse="abuse@hetzner.example"),
    SimNetwork("194.78.0.0/16", country="NL", name="RELABELLED", registrant="Proximus NV",
               abuse="abuse@proximus.example"),
    SimNetwork("104.16.0.0/13", country="US", name="CLOUDFLARENET", registrant="Cloudflare, Inc.",
               abuse="abuse@cloudflare.example"),
    SimNetwork("2606:4700::/32", country="US", name="CLOUDFLARENET-V6", registrant="Cloudflare, Inc.",
               abuse="abuse@cloudflare.example"),
    SimNetwork("193.190.0.0/15", mode="garbage"),
    SimNetwork("81.82.0.0/15", mode="slow", delay=2.0),
    SimNetwork("151.101.0.0/16", country="US", name="FASTLY", registrant="Fastly, Inc.", abuse="abuse@fastly.example"),
]


@pytest.fixture(scope="session")
def sim_dns() -> Iterator[SimDns]:
    with SimDns(ZONE, servfail={"broken.sim.test"}, silent={"slow.sim.test"}) as server:
        yield server


@pytest.fixture(scope="session")
def sim_rdap() -> Iterator[SimRdap]:
    with SimRdap(NETWORKS) as server:
        yield server


# A loopback server that answers does so in milliseconds, but on a busy machine it may take seconds: every
# answer gets a generous limit. Only a test of a server that never answers in time (the silent DNS name,
# the RDAP network that answers after 2 s) passes a short limit, and its outcome does not depend on speed.
DNS_LIMIT = RDAP_LIMIT = 10.0
QUICK_DNS, QUICK_RDAP = 0.4, 1.0


def make_config(sim_dns: SimDns, sim_rdap: SimRdap, *, max_attempts: int = 5, dns_limit: float = DNS_LIMIT,
                rdap_limit: float = RDAP_LIMIT) -> TraceConfig:
    return TraceConfig(
        resolver=ResolverConfig(nameservers=(sim_dns.nameserver,), timeout=dns_limit / 2, lifetime=dns_limit),
        rdap=RdapClient(bootstrap(), FetchPolicy(allow_loopback=True, total_timeout=rdap_limit),
                        base_url=sim_rdap.base_url, cache=DbRdapCache(timedelta(hours=24))),
        sources=tuple(country_sources(["iptocc", "geoip2fast"])), asn=AsnSource(as_numbers()),
        max_attempts=max_attempts,
    )


@pytest.fixture
def config(db: None, sim_dns: SimDns, sim_rdap: SimRdap) -> TraceConfig:
    return make_config(sim_dns, sim_rdap)


@pytest.fixture
def assessed_item(make_item: Callable[..., Item]) -> Callable[..., Item]:
    """An item on ``host`` assessed with ``verdict`` (set up directly: assessment has its own tests)."""

    def make(host: str, verdict: str = "baseline", path: str = "/page") -> Item:
        item = make_item(f"http://{host}{path}")
        fields = item.transition(ItemStatus.ASSESSED, now=timezone.now())
        item.verdict = verdict
        item.save(update_fields=[*fields, "verdict"])
        return item

    return make
