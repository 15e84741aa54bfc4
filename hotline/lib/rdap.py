"""RDAP client for IP networks (RFC 9082/9083, bootstrap by RFC 9224), hostile answers included.

Queries go through the safe fetcher (:mod:`hotline.lib.http`), so answers are size- and
time-capped. The parser accepts any JSON at all: whatever it is given, it returns an
:class:`RdapNetwork` or raises :class:`RdapParseError` naming the field, and the client turns
every failure into a typed :class:`RdapResult` outcome.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from hotline.lib.http import FetchError, FetchPolicy, Resolver, fetch

__all__ = [
    "Bootstrap",
    "RdapCache",
    "RdapClient",
    "RdapNetwork",
    "RdapOutcome",
    "RdapParseError",
    "RdapResult",
    "parse_ip_network",
]

MAX_ENTITY_DEPTH = 5
MAX_ENTITIES = 200
IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


class RdapOutcome(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"
    MALFORMED = "malformed"
    HTTP_ERROR = "http_error"
    FETCH_ERROR = "fetch_error"
    NO_SERVER = "no_server"


class RdapParseError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class RdapNetwork:
    """What tracing needs from an RDAP ``ip network`` object."""

    start_address: str
    end_address: str
    handle: str = ""
    name: str = ""
    country: str = ""
    registrant: str = ""
    abuse_name: str = ""
    abuse_emails: tuple[str, ...] = ()
    origin_asns: tuple[int, ...] = ()

    def covers(self, ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        start, end = ipaddress.ip_address(self.start_address), ipaddress.ip_address(self.end_address)
        return start.version == address.version and start <= address <= end  # type: ignore[operator]

    def to_json(self) -> dict[str, Any]:
        return {
            "start_address": self.start_address, "end_address": self.end_address, "handle": self.handle,
            "name": self.name, "country": self.country, "registrant": self.registrant,
            "abuse_name": self.abuse_name, "abuse_emails": list(self.abuse_emails),
            "origin_asns": list(self.origin_asns),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RdapNetwork:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**{**known, "abuse_emails": tuple(known.get("abuse_emails", ())),
                      "origin_asns": tuple(known.get("origin_asns", ()))})


@dataclass(frozen=True)
class RdapResult:
    outcome: RdapOutcome
    network: RdapNetwork | None = None
    error: str = ""
    retryable: bool = False
    from_cache: bool = False
    url: str = ""


# ------------------------------------------------------------------------------------ parsing


def _text(value: object, limit: int = 300) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _address(data: dict[str, Any], key: str) -> IPAddr:
    value = data.get(key)
    if not isinstance(value, str):
        raise RdapParseError(key, "missing or not a string")
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError as exc:
        raise RdapParseError(key, f"not an IP address: {value[:60]!r}") from exc


def _vcard_properties(entity: dict[str, Any]) -> Iterator[tuple[str, object]]:
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) >= 2 and card[0] == "vcard" and isinstance(card[1], list)):
        return
    for prop in card[1]:
        if isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str):
            yield prop[0].lower(), prop[3]


def _email(value: object) -> str | None:
    if isinstance(value, list):  # some servers wrap values in a list
        value = value[0] if value else None
    text = _text(value, 254).removeprefix("mailto:")
    local, at, domain = text.partition("@")
    if at and local and "." in domain and not any(c.isspace() or c in "<>\"'," for c in text):
        return text.lower()
    return None


def _entities(data: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Breadth first over nested entities, capped in depth and count (hostile answers nest deeply)."""
    queue: list[tuple[int, object]] = [(1, e) for e in data.get("entities") or [] if isinstance(e, dict)]
    seen = 0
    while queue and seen < MAX_ENTITIES:
        depth, entity = queue.pop(0)
        if not isinstance(entity, dict):
            continue
        seen += 1
        yield depth, entity
        children = entity.get("entities")
        if depth < MAX_ENTITY_DEPTH and isinstance(children, list):
            queue += [(depth + 1, child) for child in children]


def _roles(entity: dict[str, Any]) -> set[str]:
    roles = entity.get("roles")
    return {r.lower() for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()


def _contacts(data: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """(registrant name, abuse contact name, abuse e-mails): the shallowest abuse entity wins."""
    registrant, abuse_name, emails = "", "", []
    abuse_depth: int | None = None
    for depth, entity in _entities(data):
        props = list(_vcard_properties(entity))
        roles = _roles(entity)
        fn = next((_text(v, 200) for k, v in props if k == "fn" and _text(v)), "")
        if "registrant" in roles and not registrant:
            registrant = fn
        if "abuse" not in roles or (abuse_depth is not None and depth > abuse_depth):
            continue
        found = [e for k, v in props if k == "email" and (e := _email(v))]
        if found:
            abuse_depth = depth
            abuse_name = abuse_name or fn
            emails += [e for e in found if e not in emails]
    return registrant, abuse_name, tuple(emails[:5])


def _origin_asns(data: dict[str, Any]) -> tuple[int, ...]:
    # ARIN's extension names the AS(es) announcing the network.
    raw = data.get("arin_originas0_originautnums")
    if not isinstance(raw, list):
        return ()
    return tuple(n for n in raw[:10] if isinstance(n, int) and not isinstance(n, bool) and 0 < n < 2**32)


def parse_ip_network(data: object) -> RdapNetwork:
    """An RDAP ``ip network`` response -> :class:`RdapNetwork`; :class:`RdapParseError` otherwise."""
    if not isinstance(data, dict):
        raise RdapParseError("(root)", "not a JSON object")
    if "errorCode" in data:
        raise RdapParseError("errorCode", f"the server answered an error: {_text(data.get('title')) or '?'}")
    kind = data.get("objectClassName")
    if kind is not None and kind != "ip network":
        raise RdapParseError("objectClassName", f"expected 'ip network', got {str(kind)[:40]!r}")
    start, end = _address(data, "startAddress"), _address(data, "endAddress")
    if start.version != end.version or start > end:  # type: ignore[operator]
        raise RdapParseError("endAddress", "range is empty or mixes IPv4 and IPv6")
    country = _text(data.get("country"), 3).upper()
    registrant, abuse_name, emails = _contacts(data)
    return RdapNetwork(
        start_address=str(start), end_address=str(end), handle=_text(data.get("handle"), 100),
        name=_text(data.get("name"), 200), country=country if len(country) == 2 and country.isalpha() else "",
        registrant=registrant, abuse_name=abuse_name, abuse_emails=emails, origin_asns=_origin_asns(data),
    )


# ---------------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class Bootstrap:
    """IANA RDAP bootstrap registries (RFC 9224): which server answers for which numbers."""

    networks: tuple[tuple[IPNet, tuple[str, ...]], ...] = ()
    asns: tuple[tuple[int, int, tuple[str, ...]], ...] = ()
    domains: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_dir(cls, directory: Path) -> Bootstrap:
        networks: list[tuple[IPNet, tuple[str, ...]]] = []
        for name in ("ipv4.json", "ipv6.json"):
            for entries, urls in _services(directory / name):
                networks += [(ipaddress.ip_network(e, strict=False), urls) for e in entries]
        asns: list[tuple[int, int, tuple[str, ...]]] = []
        for entries, urls in _services(directory / "asn.json"):
            for entry in entries:
                low, _, high = entry.partition("-")
                asns.append((int(low), int(high or low), urls))
        domains = {e.lower(): urls for entries, urls in _services(directory / "dns.json") for e in entries}
        # Longest prefix first, so the first containing network is the most specific one.
        networks.sort(key=lambda pair: -pair[0].prefixlen)
        return cls(tuple(networks), tuple(asns), domains)

    def ip_urls(self, ip: str) -> tuple[str, ...]:
        address = ipaddress.ip_address(ip)
        return next((urls for net, urls in self.networks if address.version == net.version and address in net), ())

    def asn_urls(self, asn: int) -> tuple[str, ...]:
        return next((urls for low, high, urls in self.asns if low <= asn <= high), ())

    def domain_urls(self, name: str) -> tuple[str, ...]:
        labels = name.lower().rstrip(".").split(".")
        for i in range(len(labels)):
            if (urls := self.domains.get(".".join(labels[i:]))) is not None:
                return urls
        return ()


def _services(path: Path) -> list[tuple[list[str], tuple[str, ...]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(list(entries), tuple(urls)) for entries, urls in data["services"]]


def _preferred(urls: Sequence[str]) -> str | None:
    # RFC 9224 section 3: prefer HTTPS when both are offered.
    return next((u for u in urls if u.startswith("https://")), urls[0] if urls else None)


# ------------------------------------------------------------------------------------- client


class RdapCache(Protocol):
    def get(self, ip: str, now: datetime) -> RdapNetwork | None: ...

    def put(self, network: RdapNetwork, now: datetime) -> None: ...


class RdapClient:
    """``lookup_ip(ip, now=...)``: cache, then the server for the address (or ``base_url``)."""

    def __init__(self, bootstrap: Bootstrap, policy: FetchPolicy, *, base_url: str = "",
                 cache: RdapCache | None = None, resolver: Resolver | None = None) -> None:
        self.bootstrap = bootstrap
        self.policy = policy
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""
        self.cache = cache
        self.resolver = resolver

    def url_for(self, ip: str) -> str | None:
        base = self.base_url or _preferred(self.bootstrap.ip_urls(ip))
        return f"{base.rstrip('/')}/ip/{ip}" if base else None

    def lookup_ip(self, ip: str, *, now: datetime) -> RdapResult:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            return RdapResult(RdapOutcome.MALFORMED, error=f"address: not an IP address: {ip[:60]!r}")
        if self.cache is not None and (cached := self.cache.get(ip, now)) is not None:
            return RdapResult(RdapOutcome.OK, cached, from_cache=True)
        url = self.url_for(ip)
        if url is None:
            return RdapResult(RdapOutcome.NO_SERVER, error=f"no RDAP server in the bootstrap data for {ip}")
        result = self._query(ip, url)
        if result.network is not None and self.cache is not None:
            self.cache.put(result.network, now)
        return result

    def _query(self, ip: str, url: str) -> RdapResult:
        try:
            response = fetch(url, policy=self.policy, resolver=self.resolver)
        except FetchError as exc:
            return RdapResult(RdapOutcome.FETCH_ERROR, error=exc.message, retryable=exc.retryable, url=url)
        if response.status_code == 404:
            return RdapResult(RdapOutcome.NOT_FOUND, error="the RDAP server knows no network for it", url=url)
        if response.status_code != 200:
            retryable = response.status_code == 429 or response.status_code >= 500
            return RdapResult(RdapOutcome.HTTP_ERROR, error=f"HTTP {response.status_code}", retryable=retryable,
                              url=url)
        return self._parse(ip, url, response.body)

    @staticmethod
    def _parse(ip: str, url: str, body: bytes) -> RdapResult:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return RdapResult(RdapOutcome.MALFORMED, error=f"(body): not JSON: {str(exc)[:120]}", url=url)
        try:
            network = parse_ip_network(data)
        except RdapParseError as exc:
            return RdapResult(RdapOutcome.MALFORMED, error=str(exc), url=url)
        if not network.covers(ip):
            return RdapResult(RdapOutcome.MALFORMED, url=url, error=(
                f"startAddress/endAddress: {network.start_address}-{network.end_address} does not contain {ip}"))
        return RdapResult(RdapOutcome.OK, network, url=url)
