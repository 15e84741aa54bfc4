"""Address classification for outbound fetches (SSRF guard).

This module decides whether the fetcher may open a TCP connection to an IP
address.  It deliberately does not rely on ``ipaddress``'s ``is_global`` /
``is_private`` flags alone: the ranges are listed explicitly below (IANA IPv4
and IPv6 special-purpose registries plus cloud metadata endpoints), and
``is_global`` is only used as a final belt-and-braces check.

Transition forms that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
NAT64 ``64:ff9b::/96`` and 6to4 ``2002::/16``) are judged by the embedded IPv4
address.  Forms whose real destination cannot be derived safely (Teredo,
local-use NAT64 ``64:ff9b:1::/48``, deprecated IPv4-compatible ``::a.b.c.d``)
are refused outright.

Pure standard library; no Django imports.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = [
    "BLOCKED_V4",
    "BLOCKED_V6",
    "LOOPBACK_V4",
    "LOOPBACK_V6",
    "Blocked",
    "IPAddress",
    "blocked_reason",
    "classify",
    "connect_address",
    "embedded_ipv4",
    "is_loopback",
    "parse_ip",
    "parse_legacy_ipv4",
]


def _v4(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr)


def _v6(cidr: str) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network(cidr)


LOOPBACK_V4: Final = _v4("127.0.0.0/8")
LOOPBACK_V6: Final = _v6("::1/128")

# Order matters: the first match names the reason, so specific entries (cloud
# metadata) come before the ranges that contain them.
BLOCKED_V4: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = (
    (_v4("169.254.169.254/32"), "a cloud metadata endpoint"),
    (_v4("169.254.170.2/32"), "a cloud metadata endpoint (ECS task)"),
    (_v4("100.100.100.200/32"), "a cloud metadata endpoint (Alibaba)"),
    (_v4("168.63.129.16/32"), "a cloud metadata endpoint (Azure WireServer)"),
    (_v4("0.0.0.0/32"), "unspecified"),
    (_v4("0.0.0.0/8"), "'this network'"),
    (_v4("10.0.0.0/8"), "private"),
    (_v4("100.64.0.0/10"), "shared address space (CGNAT)"),
    (LOOPBACK_V4, "loopback"),
    (_v4("169.254.0.0/16"), "link-local"),
    (_v4("172.16.0.0/12"), "private"),
    (_v4("192.0.0.0/24"), "IETF protocol assignments"),
    (_v4("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (_v4("192.88.99.0/24"), "deprecated 6to4 relay anycast"),
    (_v4("192.168.0.0/16"), "private"),
    (_v4("198.18.0.0/15"), "benchmarking"),
    (_v4("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (_v4("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("255.255.255.255/32"), "broadcast"),
    (_v4("240.0.0.0/4"), "reserved"),
)

# Ranges handled before this table: ::ffff:0:0/96, 64:ff9b::/96, 2002::/16.
BLOCKED_V6: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = (
    (_v6("fd00:ec2::254/128"), "a cloud metadata endpoint"),
    (_v6("::/128"), "unspecified"),
    (LOOPBACK_V6, "loopback"),
    (_v6("::/96"), "deprecated IPv4-compatible"),
    (_v6("::ffff:0:0:0/96"), "IPv4-translated (SIIT)"),
    (_v6("64:ff9b:1::/48"), "local-use NAT64"),
    (_v6("::/8"), "reserved"),
    (_v6("100::/64"), "discard-only"),
    (_v6("2001::/32"), "Teredo tunnelling"),
    (_v6("2001:2::/48"), "benchmarking"),
    (_v6("2001:10::/28"), "ORCHID (deprecated)"),
    (_v6("2001:20::/28"), "ORCHIDv2"),
    (_v6("2001::/23"), "IETF protocol assignments"),
    (_v6("2001:db8::/32"), "documentation"),
    (_v6("3fff::/20"), "documentation"),
    (_v6("5f00::/16"), "SRv6 SIDs"),
    (_v6("fc00::/7"), "unique-local"),
    (_v6("fe80::/10"), "link-local"),
    (_v6("fec0::/10"), "site-local (deprecated)"),
    (_v6("ff00::/8"), "multicast"),
)

_MAPPED: Final = _v6("::ffff:0:0/96")
_NAT64: Final = _v6("64:ff9b::/96")
_SIX_TO_FOUR: Final = _v6("2002::/16")
_GLOBAL_UNICAST: Final = _v6("2000::/3")


@dataclass(frozen=True, slots=True)
class Blocked:
    """Why an address is refused. ``str()`` gives e.g. ``private (10.0.0.0/8)``."""

    category: str
    network: str
    via: str = ""  # e.g. "IPv4-mapped ::ffff:0:0/96" when judged by an embedded v4

    def __str__(self) -> str:
        own = f"{self.category} ({self.network})" if self.network else self.category
        return f"{self.via} embedding {own}" if self.via else own


def parse_ip(value: str | IPAddress) -> IPAddress:
    """Parse a canonical IP string (a zone id like ``%eth0`` is dropped)."""
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return _unscoped(value)
    return _parse_text(value)


# A fetch parses and judges the same few addresses again and again (every DNS answer, the peer after connecting):
# ``ipaddress`` parsing and the range tables cost more than the rest of the check. The answers depend on nothing
# but the argument (the tables are constants; addresses are immutable), and an invalid one raises each time (an
# exception is never cached). Bounded, so hostile DNS answers cannot grow them.
@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> IPAddress:
    return _unscoped(ipaddress.ip_address(value.strip().split("%", 1)[0]))


def _unscoped(addr: IPAddress) -> IPAddress:
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        return ipaddress.IPv6Address(int(addr))
    return addr


def parse_legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse a host the way browsers / ``inet_aton`` do (WHATWG IPv4 parser).

    Accepts ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``.
    Returns None when the host is not numeric-looking; raises ValueError when
    it looks numeric but is not a valid address (e.g. ``1.2.3.999``).
    """
    labels = host.split(".")
    if labels and labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]
    if not labels or not _numeric_label(labels[-1]):
        return None
    if len(labels) > 4:
        raise ValueError(f"invalid IPv4 address {host!r}")
    numbers = [_parse_ipv4_number(label, host) for label in labels]
    for number in numbers[:-1]:
        if number > 255:
            raise ValueError(f"invalid IPv4 address {host!r}")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError(f"invalid IPv4 address {host!r}")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _numeric_label(label: str) -> bool:
    lowered = label.lower()
    if lowered.startswith("0x"):
        return all(c in "0123456789abcdef" for c in lowered[2:])
    return lowered.isdigit() and lowered.isascii()


def _parse_ipv4_number(label: str, host: str) -> int:
    lowered = label.lower()
    try:
        if lowered.startswith("0x"):
            return int(lowered[2:] or "0", 16)
        if len(lowered) > 1 and lowered.startswith("0"):
            return int(lowered, 8)
        if not lowered.isascii():
            raise ValueError(lowered)
        return int(lowered, 10)
    except ValueError:
        raise ValueError(f"invalid IPv4 address {host!r}") from None


def _match(addr: IPAddress) -> Blocked | None:
    table: tuple[tuple[IPNetwork, str], ...] = (
        BLOCKED_V4 if isinstance(addr, ipaddress.IPv4Address) else BLOCKED_V6
    )
    for network, category in table:
        if addr in network:
            return Blocked(category, str(network))
    return None


def embedded_ipv4(addr: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address carried by a mapped / NAT64 / 6to4 address, if any."""
    if addr in _MAPPED:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), f"IPv4-mapped {_MAPPED}"
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), f"NAT64 {_NAT64}"
    if addr in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(addr) >> 80) & 0xFFFFFFFF), f"6to4 {_SIX_TO_FOUR}"
    return None


def classify(value: str | IPAddress) -> Blocked | None:
    """Return why ``value`` must not be contacted, or None if it is public.

    Loopback is reported like any other blocked range; callers decide whether
    their policy allows it (see :func:`blocked_reason`).
    """
    return _classify(parse_ip(value))


@functools.lru_cache(maxsize=4096)
def _classify(addr: IPAddress) -> Blocked | None:
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = embedded_ipv4(addr)
        if embedded is not None:
            inner, via = embedded
            found = classify(inner)
            return Blocked(found.category, found.network, via) if found else None
    found = _match(addr)
    if found is not None:
        return found
    if isinstance(addr, ipaddress.IPv6Address) and addr not in _GLOBAL_UNICAST:
        return Blocked("not global unicast", str(_GLOBAL_UNICAST))
    if not addr.is_global:  # belt and braces: stdlib's view of the registries
        return Blocked("not globally routable", "")
    return None


def is_loopback(value: str | IPAddress) -> bool:
    """True for 127/8, ::1 and their IPv4-mapped form."""
    return _is_loopback(parse_ip(value))


@functools.lru_cache(maxsize=4096)
def _is_loopback(addr: IPAddress) -> bool:
    addr = connect_address(addr)
    return addr in LOOPBACK_V4 if addr.version == 4 else addr in LOOPBACK_V6


def blocked_reason(value: str | IPAddress, *, allow_loopback: bool = False) -> Blocked | None:
    """Like :func:`classify`, but loopback passes when ``allow_loopback``."""
    found = classify(value)
    if found is not None and allow_loopback and is_loopback(value):
        return None
    return found


def connect_address(addr: IPAddress) -> IPAddress:
    """The address to hand to ``connect()``: IPv4-mapped is unwrapped to IPv4."""
    if isinstance(addr, ipaddress.IPv6Address) and addr in _MAPPED:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr
