"""Where the demo's synthetic sites are "hosted": a DNS stub and an RDAP server on loopback, and a directory.

Every `*.sim.test` name resolves to an address in one of a few country ranges, chosen by a hash of the name,
so a site always lands in the same country. The ranges are real allocations (so the offline geo data agrees on
the country) but the providers, abuse contacts and hotlines answering for them are invented (`.example`): no
real company is named as the host of anything, and no address is ever connected to — fetching goes to the
simulated web, not to these addresses.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from hotline.audit.services import SYSTEM
from hotline.partners.importer import load_demo_directory
from hotline.partners.models import PoliceContact
from hotline.sim.dns import SimDns
from hotline.sim.rdap import SimNetwork, SimRdap
from hotline.tracing.importer import import_providers, load_cdns


@dataclass(frozen=True)
class DemoRange:
    country: str
    cidr: str
    provider: str
    share: int  # out of 100


RANGES = (
    DemoRange("BE", "193.190.0.0/16", "Voorbeeld Hosting BV (invented)", 40),
    DemoRange("NL", "145.100.0.0/16", "Exemplaar Datacenter (invented)", 20),
    DemoRange("DE", "217.160.0.0/17", "Beispiel Server GmbH (invented)", 15),
    DemoRange("US", "23.20.0.0/16", "Example Cloud Inc. (invented)", 15),
    DemoRange("FR", "51.15.0.0/16", "Exemple Hébergement SAS (invented)", 10),
)


def _slug(provider: str) -> str:
    return provider.split(" (")[0].lower().replace(" ", "-").replace(".", "").replace("é", "e")


def address_for(name: str) -> str:
    """The demo address of a host name: a stable country by share, a stable address inside its range."""
    digest = hashlib.sha256(name.lower().encode()).digest()
    pick, total = digest[0] * 100 // 256, 0
    chosen = RANGES[-1]
    for candidate in RANGES:
        total += candidate.share
        if pick < total:
            chosen = candidate
            break
    network = ipaddress.ip_network(chosen.cidr)
    offset = 10 + int.from_bytes(digest[1:4], "big") % (network.num_addresses - 20)
    return str(network.network_address + offset)


def _answer(name: str) -> dict[str, Any] | None:
    return {"A": [address_for(name)]} if name.rstrip(".").endswith(".sim.test") else None


def seed_directory() -> None:
    """Invented providers for the demo ranges, the CDN list, the partner hotlines and the police contacts."""
    providers = [{"name": r.provider, "country": r.country, "cidrs": [r.cidr], "contacts": [{
        "email": f"abuse@{_slug(r.provider)}.example", "channel": "email",
        "language": {"BE": "nl", "FR": "fr", "DE": "de"}.get(r.country, "en")}]} for r in RANGES]
    summary = import_providers(io.BytesIO(json.dumps(providers).encode()), fmt="json", actor=SYSTEM, origin="demo")
    if summary.errors:
        raise ValueError(f"demo directory: {summary.errors}")
    load_cdns(actor=SYSTEM)
    load_demo_directory(actor=SYSTEM)
    PoliceContact.objects.get_or_create(
        name="Federal police, online child abuse unit (invented)", country="BE", kind=PoliceContact.Kind.NATIONAL,
        defaults={"email": "referrals@police-be.example", "languages": ["nl", "fr"]})
    PoliceContact.objects.get_or_create(
        name="International liaison desk (invented)", country="BE", kind=PoliceContact.Kind.INTERNATIONAL,
        defaults={"email": "international@police-be.example", "languages": ["en"]})


class DemoHosting(ExitStack):
    """Start the DNS stub and the RDAP server; `env` holds the settings the web and worker processes need."""

    def __enter__(self) -> DemoHosting:
        super().__enter__()
        self.dns = self.enter_context(SimDns(fallback=_answer))
        networks = [SimNetwork(r.cidr, country=r.country, name=_slug(r.provider).upper(),
                               registrant=r.provider, abuse=f"abuse@{_slug(r.provider)}.example") for r in RANGES]
        self.rdap = self.enter_context(SimRdap(networks))
        return self

    @property
    def env(self) -> dict[str, str]:
        return {"HOTLINE_DNS_RESOLVERS": self.dns.spec, "HOTLINE_RDAP_BASE_URL": self.rdap.base_url}
