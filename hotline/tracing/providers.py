"""Looking up the provider directory: which provider (or CDN) owns an AS number or an address, and
which of its contacts to write to. Lookups are ASN first, then the most specific address range.

Edits (the UI, CSV/JSON imports, the shipped CDN list) are services: ``services.save_provider`` and
``services.merge_provider``, each audited.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.db.models import Q, QuerySet

from hotline.lib import prepared
from hotline.tracing.models import AbuseContact, Provider, ProviderNetwork

#: Addresses per range query (an OR of range conditions): well under SQLite's expression depth limit, and a
#: power of two (``prepared.padded`` rounds a chunk up to one).
RANGE_CHUNK = 64

DATA_DIR = Path(__file__).resolve().parent / "data"


def ip_key(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """A string that sorts like the address: IP version digit + 32 hex digits."""
    address = ipaddress.ip_address(ip)
    return f"{address.version}{int(address):032x}"


def range_keys(cidr: str) -> tuple[str, str, int]:
    network = ipaddress.ip_network(cidr, strict=False)
    return ip_key(network.network_address), ip_key(network.broadcast_address), network.prefixlen


def network_row(provider: Provider, *, asn: int | None = None, cidr: str = "") -> ProviderNetwork:
    row = ProviderNetwork(provider=provider, asn=asn, cidr=cidr)
    if cidr:
        row.range_start, row.range_end, row.prefixlen = range_keys(cidr)
    return row


@dataclass(frozen=True)
class Match:
    provider: Provider
    by: str  # "asn" or "range"
    network: str


def find_provider(ip: str, asn: int | None) -> Match | None:
    """The directory's provider for an address: by AS number first, then the narrowest range."""
    if asn is not None:
        row = ProviderNetwork.objects.filter(asn=asn).select_related("provider").order_by("pk").first()
        if row is not None:
            return Match(row.provider, "asn", f"AS{asn}")
    key = ip_key(ip)
    row = (ProviderNetwork.objects.filter(range_start__lte=key, range_end__gte=key)
           .exclude(range_start="").select_related("provider").order_by("-range_start", "-prefixlen").first())
    return Match(row.provider, "range", row.cidr) if row is not None else None


def covering(keys: Iterable[str]) -> Q:
    """Rows whose ``range_start``..``range_end`` holds any of these ``ip_key`` values."""
    condition = Q(pk__in=[])
    for key in keys:
        condition |= Q(range_start__lte=key, range_end__gte=key)
    return condition


def chunks(values: list[str], size: int = RANGE_CHUNK) -> list[list[str]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def find_providers(wanted: Iterable[tuple[str, int | None]]) -> dict[tuple[str, int | None], Match | None]:
    """``find_provider`` for several (address, AS number) pairs: the networks of their AS numbers and the ranges
    holding their addresses, with their providers, in one query per sixty-four addresses, whatever their number,
    each compiled once per process (``prepared``: every trace asks); the same answer as one lookup each."""
    pairs = list(dict.fromkeys(wanted))
    if not pairs:
        return {}
    numbers = sorted({asn for _, asn in pairs if asn is not None})
    keys = {ip: ip_key(ip) for ip, _ in pairs}
    networks: list[ProviderNetwork] = []
    for n, chunk in enumerate(chunks(sorted(set(keys.values())))):
        asns = numbers if n == 0 else []
        networks += prepared.objects("tracing.networks", _networks, vary=bool(asns), keys=prepared.padded(chunk),
                                     **({"asns": prepared.padded(asns)} if asns else {}))
    providers = {row.provider_id: row.provider for row in networks}  # read with the networks (select_related)
    by_asn: dict[int, ProviderNetwork] = {}
    for row in sorted((r for r in networks if r.asn in numbers), key=lambda r: r.pk):
        by_asn.setdefault(row.asn or 0, row)
    ranges = {row.pk: row for row in networks if row.range_start}.values()
    found: dict[tuple[str, int | None], Match | None] = {}
    for ip, asn in pairs:
        if asn is not None and asn in by_asn:
            found[(ip, asn)] = Match(providers[by_asn[asn].provider_id], "asn", f"AS{asn}")
            continue
        key = keys[ip]
        # as find_provider: the highest start first, then the longest prefix
        best = max((r for r in ranges if r.range_start <= key <= r.range_end),
                   key=lambda r: (r.range_start, r.prefixlen or 0), default=None)
        found[(ip, asn)] = Match(providers[best.provider_id], "range", best.cidr) if best is not None else None
    return found


def _networks(keys: list[str], asns: list[int] | None = None) -> QuerySet[ProviderNetwork]:
    """The networks of these AS numbers, and the address ranges holding any of these ``ip_key`` values, with their
    providers."""
    condition = covering(keys) & ~Q(range_start="")
    return ProviderNetwork.objects.filter(condition | Q(asn__in=asns) if asns else condition).select_related("provider")


def providers_by_id(ids: Iterable[int | None]) -> dict[int, Provider]:
    """The providers with these ids (None left out), in one query compiled once per process."""
    return _providers({pk for pk in ids if pk is not None})


def _providers(ids: set[int]) -> dict[int, Provider]:
    if not ids:
        return {}
    found = prepared.objects("tracing.providers", lambda ids: Provider.objects.filter(pk__in=ids),
                             ids=prepared.padded(sorted(ids)))
    return {provider.pk: provider for provider in found}


def preferred_contact(provider: Provider) -> AbuseContact | None:
    """Entered or imported contacts before ones learned from RDAP; oldest first."""
    return provider.contacts.order_by("source", "pk").first()


def preferred_contacts(provider_ids: Iterable[int]) -> dict[int, AbuseContact | None]:
    """``preferred_contact`` for several providers (by pk) in one query, compiled once per process."""
    ids = set(provider_ids)
    found: dict[int, AbuseContact | None] = dict.fromkeys(ids)
    if not ids:
        return found
    contacts = prepared.objects("tracing.contacts", lambda ids: AbuseContact.objects.filter(provider_id__in=ids)
                                .order_by("provider_id", "source", "pk"), ids=prepared.padded(sorted(ids)))
    for contact in contacts:
        if contact.provider_id is not None:
            found[contact.provider_id] = found[contact.provider_id] or contact
    return found


# ------------------------------------------------------------------------------------ AS numbers


@lru_cache(maxsize=1)
def as_numbers() -> dict[str, int]:
    """AS names as the offline ASN data spells them -> AS numbers (that data carries names only)."""
    data = json.loads((DATA_DIR / "as_numbers.json").read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["numbers"].items()}
