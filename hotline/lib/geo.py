"""Offline IP -> country (two independent data sets) and IP -> network (AS name, AS number, prefix).

Sources register themselves by name; a new source is one small class with ``country(ip)``.

* ``iptocc``: the five RIRs' delegation files (where a block is *assigned*), embedded in a Rust
  extension; microseconds per lookup, no load cost.
* ``geoip2fast``: MaxMind GeoLite2 country + ASN data shipped with the package
  (``geoip2fast-asn-ipv6.dat.gz``, which holds IPv4 and IPv6). Loading it costs about 0.4 s and
  ~120 MB once per process, so it is loaded lazily on first use, under a lock. The library keeps
  its tables in module globals: one data file per process, never two.

The shipped ASN data carries AS *names* and announced prefixes but no AS numbers; the number comes
from a caller-supplied name -> number table (see :class:`AsnSource`), else it is unknown.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "AsnInfo",
    "AsnSource",
    "CountrySource",
    "Geoip2fastSource",
    "IptoccSource",
    "country_sources",
    "is_public",
    "register",
]

_REGISTRY: dict[str, type[CountrySource]] = {}


def register(cls: type[CountrySource]) -> type[CountrySource]:
    _REGISTRY[cls.name] = cls
    return cls


def is_public(ip: str) -> bool:
    """Whether ``ip`` is a globally routed address (the only kind any data set can place)."""
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


def _country_code(value: object) -> str | None:
    text = str(value or "").strip().upper()
    return text if len(text) == 2 and text.isalpha() else None


class CountrySource(ABC):
    """One independent IP -> ISO 3166-1 alpha-2 data set. ``None`` when the address is not in it."""

    name: ClassVar[str]

    def country(self, ip: str) -> str | None:
        if not is_public(ip):
            return None
        return self._country(ip)

    @abstractmethod
    def _country(self, ip: str) -> str | None: ...


@register
class IptoccSource(CountrySource):
    name = "iptocc"

    def _country(self, ip: str) -> str | None:
        import iptocc

        return _country_code(iptocc.country_code(ip))


class _Geoip2fast:
    """The one lazily loaded geoip2fast database of this process."""

    _lock = threading.Lock()
    _db: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls._db is None:
            with cls._lock:
                if cls._db is None:
                    import geoip2fast  # type: ignore[import-untyped]
                    from geoip2fast import GeoIP2Fast

                    path = os.path.join(os.path.dirname(geoip2fast.__file__), "geoip2fast-asn-ipv6.dat.gz")
                    cls._db = GeoIP2Fast(geoip2fast_data_file=path, verbose=False)
        return cls._db

    @classmethod
    def lookup(cls, ip: str) -> Any:
        return cls.get().lookup(ip)


@register
class Geoip2fastSource(CountrySource):
    name = "geoip2fast"

    def _country(self, ip: str) -> str | None:
        result = _Geoip2fast.lookup(ip)
        if getattr(result, "is_private", False):
            return None
        return _country_code(getattr(result, "country_code", None))


def country_sources(names: Iterable[str] | None = None) -> list[CountrySource]:
    """Instances of the named sources (default: every registered one), in the order given."""
    wanted = list(names) if names is not None else list(_REGISTRY)
    unknown = [n for n in wanted if n not in _REGISTRY]
    if unknown:
        raise ValueError(f"unknown geolocation source(s): {', '.join(unknown)} (known: {', '.join(_REGISTRY)})")
    return [_REGISTRY[n]() for n in wanted]


@dataclass(frozen=True)
class AsnInfo:
    """The network announcing an address: AS number (None when unknown), AS name, announced prefix."""

    asn: int | None
    name: str
    prefix: str


class AsnSource:
    """IP -> :class:`AsnInfo` from geoip2fast's shipped ASN data.

    ``numbers`` maps AS names as the data spells them (``"GOOGLE"``, ``"CLOUDFLARENET"``) to AS
    numbers, since the data file has names only.
    """

    def __init__(self, numbers: Mapping[str, int] | None = None) -> None:
        self.numbers = {k.casefold(): int(v) for k, v in (numbers or {}).items()}

    def lookup(self, ip: str) -> AsnInfo | None:
        if not is_public(ip):
            return None
        result = _Geoip2fast.lookup(ip)
        name = str(getattr(result, "asn_name", "") or "").strip()
        prefix = str(getattr(result, "asn_cidr", "") or "")
        if not name or name == "<unknown>" or getattr(result, "is_private", False):
            return None
        return AsnInfo(self.numbers.get(name.casefold()), name, prefix)
