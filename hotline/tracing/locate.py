"""Place one address (country signals, network, provider) and decide the country from the signals.

Signals per address: one per offline geolocation source (``iptocc``, ``geoip2fast``) plus the
country of the RDAP network. The decision is the majority over all signals of all located
addresses; it is *disputed* (an analyst looks) when any two signals disagree or when only one
signal exists at all.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotline.lib.geo import AsnInfo, is_public
from hotline.lib.rdap import RdapClient, RdapOutcome, RdapResult
from hotline.tracing.conf import TraceConfig
from hotline.tracing.providers import Match, find_provider, find_providers, ip_key
from hotline.tracing.rdapcache import BatchRdapCache, DbRdapCache

RDAP = "rdap"
#: On a tie, the measured location wins over registry statements (a disputed decision either way).
TIE_BREAK = ("geoip2fast", RDAP, "iptocc")


@dataclass
class Located:
    ip: str
    role: str  # "address" (what DNS gave), or "origin" (behind a CDN, recorded later)
    signals: dict[str, str]
    asn: AsnInfo | None
    asn_number: int | None
    match: Match | None
    rdap: RdapResult

    @property
    def is_cdn(self) -> bool:
        return self.match is not None and self.match.provider.is_cdn

    def as_json(self) -> dict[str, Any]:
        network = self.rdap.network
        return {
            "ip": self.ip, "role": self.role, "asn": self.asn_number,
            "as_name": self.asn.name if self.asn else "", "prefix": self.asn.prefix if self.asn else "",
            "country_signals": self.signals,
            "provider": self.match.provider.name if self.match else None,
            "provider_id": self.match.provider.pk if self.match else None,
            "matched_by": f"{self.match.by} {self.match.network}" if self.match else "",
            "is_cdn": self.is_cdn,
            "rdap": {
                "outcome": str(self.rdap.outcome), "cached": self.rdap.from_cache, "error": self.rdap.error,
                "handle": network.handle if network else "", "name": network.name if network else "",
                "country": network.country if network else "",
                "range": f"{network.start_address} - {network.end_address}" if network else "",
                "abuse_emails": list(network.abuse_emails) if network else [],
            },
        }


def locate(ip: str, *, role: str, config: TraceConfig, now: datetime) -> Located:
    signals, rdap, asn, number = _facts(ip, config.rdap, config, now)
    return Located(ip, role, signals, asn, number, find_provider(ip, number), rdap)


def locate_many(ips: list[str], *, role: str, config: TraceConfig, now: datetime) -> dict[str, Located]:
    """``locate`` for several addresses, each once: the RDAP cache and the provider directory are read once
    for all of them (a notice's re-trace), RDAP servers asked only for what the cache does not hold."""
    unique = list(dict.fromkeys(ips))
    client = _batch_client(config.rdap, [ip for ip in unique if is_public(ip)], now)
    facts = {ip: _facts(ip, client, config, now) for ip in unique}
    matches = find_providers((ip, number) for ip, (_, _, _, number) in facts.items())
    return {ip: Located(ip, role, signals, asn, number, matches[(ip, number)], rdap)
            for ip, (signals, rdap, asn, number) in facts.items()}


def _batch_client(client: RdapClient, ips: list[str], now: datetime) -> RdapClient:
    if not isinstance(client.cache, DbRdapCache) or not ips:
        return client
    batch = copy.copy(client)
    batch.cache = BatchRdapCache(client.cache, [ip_key(ip) for ip in ips], now)
    return batch


def _facts(ip: str, client: RdapClient, config: TraceConfig,
           now: datetime) -> tuple[dict[str, str], RdapResult, AsnInfo | None, int | None]:
    """The country signals, the RDAP answer and the AS of one address (no directory lookup)."""
    signals = {source.name: cc for source in config.sources if (cc := source.country(ip))}
    if is_public(ip):
        rdap = client.lookup_ip(ip, now=now)
    else:  # a hostile or broken DNS answer (10.x, 127.x): no registry knows it, so nobody is asked
        rdap = RdapResult(RdapOutcome.NO_SERVER, error=f"{ip} is not a public address")
    if rdap.network is not None and rdap.network.country:
        signals[RDAP] = rdap.network.country
    asn = config.asn.lookup(ip)
    number = asn.asn if asn else None
    if number is None and rdap.network is not None and rdap.network.origin_asns:
        number = rdap.network.origin_asns[0]
    return signals, rdap, asn, number


@dataclass(frozen=True)
class Decision:
    country: str
    signals: dict[str, str]
    disputed: bool


def decide_country(located: list[Located]) -> Decision:
    votes: Counter[str] = Counter()
    per_source: dict[str, Counter[str]] = {}
    for place in located:
        for source, cc in place.signals.items():
            votes[cc] += 1
            per_source.setdefault(source, Counter())[cc] += 1
    if not votes:
        return Decision("", {}, False)
    signals = {source: counts.most_common(1)[0][0] for source, counts in per_source.items()}
    best = max(votes.values())
    leaders = [cc for cc, n in votes.items() if n == best]
    country = leaders[0] if len(leaders) == 1 else _tie_break(leaders, signals)
    return Decision(country, signals, disputed=len(votes) > 1 or sum(votes.values()) < 2)


def _tie_break(leaders: list[str], signals: dict[str, str]) -> str:
    for source in TIE_BREAK:
        if signals.get(source) in leaders:
            return signals[source]
    return sorted(leaders)[0]


def rdap_problem(place: Located) -> str:
    if place.rdap.outcome == RdapOutcome.OK:
        return ""
    return f"RDAP for {place.ip}: {place.rdap.outcome}: {place.rdap.error}"
