"""Resolve a host name to its addresses (A and AAAA) with dnspython, keeping the CNAME chain.

Every DNS failure is a typed :class:`Resolution` outcome, never an exception: callers record it.
Resolvers are configurable (``"127.0.0.1:5353, [::1]:53"``); an empty list means the system's.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from dataclasses import dataclass, field
from enum import StrEnum

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from hotline.lib import dnslean

__all__ = ["DnsOutcome", "Resolution", "ResolverConfig", "parse_resolvers", "resolve_host"]


class DnsOutcome(StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"
    NO_ADDRESS = "no_address"
    ERROR = "error"


#: Outcomes where asking again later may give an answer.
TRANSIENT = frozenset({DnsOutcome.SERVFAIL, DnsOutcome.TIMEOUT})


@dataclass(frozen=True)
class Resolution:
    host: str
    outcome: DnsOutcome
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()
    error: str = ""

    @property
    def transient(self) -> bool:
        return self.outcome in TRANSIENT


@dataclass(frozen=True)
class ResolverConfig:
    #: (IP, port) pairs; empty = the system's resolvers from /etc/resolv.conf.
    nameservers: tuple[tuple[str, int], ...] = ()
    #: Seconds for one query to one server, and for the whole resolution of one record type.
    timeout: float = 2.0
    lifetime: float = 4.0


def parse_resolvers(spec: str) -> tuple[tuple[str, int], ...]:
    """``"127.0.0.1:5353, [::1]:53, 9.9.9.9"`` -> ((ip, port), ...); ValueError naming the bad entry."""
    found: list[tuple[str, int]] = []
    for raw in (part.strip() for part in spec.split(",")):
        if not raw:
            continue
        host, port = raw, "53"
        if raw.startswith("["):
            host, _, rest = raw[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif raw.count(":") == 1:
            host, port = raw.split(":")
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError as exc:
            raise ValueError(f"resolver {raw!r}: not an IP address") from exc
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"resolver {raw!r}: bad port {port!r}")
        found.append((address, int(port)))
    return tuple(found)


@functools.lru_cache(maxsize=8)
def _resolver(config: ResolverConfig) -> dns.resolver.Resolver:
    # Built once per configuration (the system one reads /etc/resolv.conf); read-only afterwards,
    # so worker threads share it.
    if config.nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in config.nameservers]
    else:
        resolver = dns.resolver.Resolver(configure=True)
    resolver.timeout = config.timeout
    resolver.lifetime = config.lifetime
    resolver.retry_servfail = False
    return resolver


def _chain(response: dns.message.Message | None) -> list[str]:
    if not isinstance(response, dns.message.QueryMessage):
        return []
    try:
        result = response.resolve_chaining()
    except Exception:  # a malformed chain only loses the chain, not the answer
        return []
    return _cnames(result)


def _cnames(result: dns.message.ChainingResult) -> list[str]:
    return [str(rrset[0].target).rstrip(".") for rrset in result.cnames if len(rrset)]


@dataclass
class _Partial:
    addresses: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    failures: list[tuple[DnsOutcome, str]] = field(default_factory=list)


_TYPES = {"A": dnslean.A, "AAAA": dnslean.AAAA}


def _query(resolver: dns.resolver.Resolver, name: dns.name.Name, rdtype: str, into: _Partial, *,
           config: ResolverConfig | None = None) -> None:
    """One record type of ``name`` into ``into``: read lean (``dnslean``) from the first configured server when its
    answer is plain, else dnspython's resolver within what is left of the lifetime."""
    began = time.monotonic()
    if config is not None and config.nameservers:
        lean = dnslean.ask(config.nameservers[0], name.labels, _TYPES[rdtype], min(config.timeout, config.lifetime))
        if lean is not None:
            into.chain = into.chain or list(lean.cnames)
            if lean.nxdomain:
                into.failures.append((DnsOutcome.NXDOMAIN, f"{rdtype}: domain does not exist"))
            into.addresses += [address for address in lean.addresses if address not in into.addresses]
            return
    left = resolver.lifetime - (time.monotonic() - began)
    try:
        answer = resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False, lifetime=max(left, 0.001))
    except dns.resolver.NXDOMAIN as exc:
        responses = list(exc.responses().values())  # type: ignore[no-untyped-call]
        into.chain = into.chain or _chain(responses[0] if responses else None)
        into.failures.append((DnsOutcome.NXDOMAIN, f"{rdtype}: domain does not exist"))
        return
    except dns.resolver.NoNameservers:
        into.failures.append((DnsOutcome.SERVFAIL, f"{rdtype}: every resolver failed (SERVFAIL or refused)"))
        return
    except dns.exception.Timeout:
        into.failures.append((DnsOutcome.TIMEOUT, f"{rdtype}: no answer within {resolver.lifetime:g}s"))
        return
    except dns.exception.DNSException as exc:
        into.failures.append((DnsOutcome.ERROR, f"{rdtype}: {exc}"))
        return
    # The answer followed the chain already (``Answer.chaining_result``: ``resolve_chaining`` of its response).
    into.chain = into.chain or _cnames(answer.chaining_result)
    if answer.rrset is not None:
        into.addresses += [str(r.address) for r in answer.rrset if str(r.address) not in into.addresses]


def _outcome(partial: _Partial) -> tuple[DnsOutcome, str]:
    if partial.addresses:
        return DnsOutcome.OK, "; ".join(message for _, message in partial.failures)
    kinds = [kind for kind, _ in partial.failures]
    message = "; ".join(message for _, message in partial.failures)
    # Most telling first: a name that does not exist beats a flaky server for the other type.
    for kind in (DnsOutcome.NXDOMAIN, DnsOutcome.SERVFAIL, DnsOutcome.TIMEOUT, DnsOutcome.ERROR):
        if kind in kinds:
            return kind, message
    return DnsOutcome.NO_ADDRESS, message or "no A or AAAA records"


def resolve_host(host: str, *, config: ResolverConfig) -> Resolution:
    """A and AAAA of ``host`` (an IP literal is returned as is, without DNS)."""
    host = host.strip().rstrip(".").lower().removeprefix("[").removesuffix("]")
    try:
        return Resolution(host, DnsOutcome.OK, (str(ipaddress.ip_address(host)),))
    except ValueError:
        pass
    try:
        name = dns.name.from_text(host)
    except (dns.exception.DNSException, UnicodeError) as exc:
        return Resolution(host, DnsOutcome.ERROR, error=f"host: not a valid DNS name ({exc})")
    try:
        resolver = _resolver(config)
    except dns.exception.DNSException as exc:
        return Resolution(host, DnsOutcome.SERVFAIL, error=f"no usable resolver configuration: {exc}")
    partial = _Partial()
    _query(resolver, name, "A", partial, config=config)
    # A name that does not exist, or a server that does not answer, will not do better for AAAA:
    # skipping it halves the time a dead name costs.
    if not any(kind in (DnsOutcome.NXDOMAIN, DnsOutcome.TIMEOUT) for kind, _ in partial.failures):
        _query(resolver, name, "AAAA", partial, config=config)
    outcome, error = _outcome(partial)
    return Resolution(host, outcome, tuple(partial.addresses), tuple(partial.chain), error)
