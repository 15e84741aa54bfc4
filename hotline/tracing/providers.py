"""Looking up the provider directory: which provider (or CDN) owns an AS number or an address, and
which of its contacts to write to. Lookups are ASN first, then the most specific address range.

Edits (the UI, CSV/JSON imports, the shipped CDN list) are services: ``services.save_provider`` and
``services.merge_provider``, each audited.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hotline.tracing.models import AbuseContact, Provider, ProviderNetwork

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


def preferred_contact(provider: Provider) -> AbuseContact | None:
    """Entered or imported contacts before ones learned from RDAP; oldest first."""
    return provider.contacts.order_by("source", "pk").first()


# ------------------------------------------------------------------------------------ AS numbers


@lru_cache(maxsize=1)
def as_numbers() -> dict[str, int]:
    """AS names as the offline ASN data spells them -> AS numbers (that data carries names only)."""
    data = json.loads((DATA_DIR / "as_numbers.json").read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["numbers"].items()}
