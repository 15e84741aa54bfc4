"""The provider directory: which provider (or CDN) owns an AS number or an address, and its contacts.

Edits come from the UI (``save_provider``), from CSV/JSON files (``import_providers``) and from the
shipped CDN list (``load_cdns``); each is audited. Lookups are ASN first, then the most specific
address range.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from hotline.audit.services import Actor, record
from hotline.tracing.models import AbuseContact, Provider, ProviderNetwork
from hotline.tracing.schema import ContactIn, ProviderIn

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


# ------------------------------------------------------------------------------------ editing


def _snapshot(provider: Provider) -> dict[str, Any]:
    return {
        "name": provider.name, "country": provider.country, "is_cdn": provider.is_cdn,
        "networks": sorted(str(n) for n in provider.networks.all()),
        "contacts": sorted(f"{c.channel}:{c.email or c.endpoint}" for c in provider.contacts.all()),
    }


def _set_fields(provider: Provider, data: ProviderIn, *, merge: bool) -> list[str]:
    changed = []
    values = {"name": data.name, "country": data.country, "is_cdn": data.is_cdn, "website": data.website,
              "notes": data.notes}
    for name, value in values.items():
        if merge and value in ("", False) and name != "name":
            continue  # an import line that leaves a column empty keeps what the directory has
        if getattr(provider, name) != value:
            setattr(provider, name, value)
            changed.append(name)
    return changed


def _sync_networks(provider: Provider, data: ProviderIn, *, merge: bool) -> None:
    existing: dict[tuple[int | None, str], ProviderNetwork] = {(n.asn, n.cidr): n for n in provider.networks.all()}
    wanted: set[tuple[int | None, str]] = {(asn, "") for asn in data.asns} | {(None, cidr) for cidr in data.cidrs}
    if not merge:
        ProviderNetwork.objects.filter(pk__in=[n.pk for key, n in existing.items() if key not in wanted]).delete()
    ProviderNetwork.objects.bulk_create(
        [network_row(provider, asn=asn, cidr=cidr) for asn, cidr in sorted(wanted - set(existing), key=str)])


def _contact_fields(contact: AbuseContact, data: ContactIn) -> list[str]:
    changed = []
    for name in ("name", "email", "endpoint", "channel", "language", "repeat_hours"):
        if getattr(contact, name) != getattr(data, name):
            setattr(contact, name, getattr(data, name))
            changed.append(name)
    return changed


def _sync_contacts(provider: Provider, contacts: list[ContactIn], *, merge: bool,
                   delete_ids: frozenset[int] = frozenset()) -> None:
    by_id = {c.pk: c for c in provider.contacts.all()}
    by_address = {(c.email or c.endpoint): c for c in by_id.values()}
    for data in contacts:
        contact = by_id.get(data.id) if data.id else by_address.get(data.email or data.endpoint)
        if contact is None:
            contact = AbuseContact(provider=provider, source=AbuseContact.Source.DIRECTORY)
            _contact_fields(contact, data)
            contact.save()
        elif fields := _contact_fields(contact, data):
            contact.save(update_fields=fields)
    doomed = [c for pk, c in by_id.items() if pk in delete_ids]
    if not merge:
        try:
            AbuseContact.objects.filter(pk__in=[c.pk for c in doomed]).delete()
        except ProtectedError as exc:
            raise ValueError("contacts: a contact that notices or traces refer to cannot be deleted") from exc


@transaction.atomic
def save_provider(provider: Provider | None, data: ProviderIn, *, actor: Actor,
                  delete_contacts: frozenset[int] = frozenset()) -> Provider:
    """Create or edit a provider with exactly these networks and contacts (the edit page)."""
    before = _snapshot(provider) if provider is not None else None
    provider = provider or Provider()
    if provider.pk is None:
        _set_fields(provider, data, merge=False)
        provider.save()
    elif fields := _set_fields(provider, data, merge=False):
        provider.save(update_fields=fields)
    _sync_networks(provider, data, merge=False)
    _sync_contacts(provider, data.contacts, merge=False, delete_ids=delete_contacts)
    record(actor, "provider.created" if before is None else "provider.updated", provider,
           before=before, after=_snapshot(provider))
    return provider


@transaction.atomic
def merge_provider(data: ProviderIn, *, actor: Actor, origin: str) -> tuple[Provider, bool]:
    """Add one imported record to the directory: networks and contacts are added, never removed."""
    provider = Provider.objects.select_for_update().filter(name=data.name).first()
    created = provider is None
    before = None if provider is None else _snapshot(provider)
    provider = provider or Provider()
    fields = _set_fields(provider, data, merge=True)
    if created:
        provider.save()
    elif fields:
        provider.save(update_fields=fields)
    _sync_networks(provider, data, merge=True)
    _sync_contacts(provider, data.contacts, merge=True)
    after = _snapshot(provider)
    if before != after:
        record(actor, "provider.imported", provider, before=before, after={**after, "from": origin})
    return provider, created


# ------------------------------------------------------------------------------------ AS numbers


@lru_cache(maxsize=1)
def as_numbers() -> dict[str, int]:
    """AS names as the offline ASN data spells them -> AS numbers (that data carries names only)."""
    data = json.loads((DATA_DIR / "as_numbers.json").read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["numbers"].items()}
