"""What a trace needs (resolver, geolocation sources, RDAP client), built from settings.

Tests, the demo and the benchmark pass their own :class:`TraceConfig` (simulated DNS and RDAP).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from hotline.lib.dnsresolve import ResolverConfig, parse_resolvers
from hotline.lib.geo import AsnSource, CountrySource, country_sources
from hotline.lib.http import policy_from_settings
from hotline.lib.rdap import Bootstrap, RdapClient
from hotline.tracing.providers import DATA_DIR, as_numbers
from hotline.tracing.rdapcache import DbRdapCache

RDAP_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class TraceConfig:
    resolver: ResolverConfig
    rdap: RdapClient
    sources: tuple[CountrySource, ...]
    asn: AsnSource
    max_addresses: int = 8
    max_attempts: int = 5


@lru_cache(maxsize=4)
def bootstrap(directory: Path = DATA_DIR) -> Bootstrap:
    return Bootstrap.from_dir(directory)


@lru_cache(maxsize=1)
def _asn_source() -> AsnSource:
    return AsnSource(as_numbers())


def rdap_client(*, base_url: str | None = None) -> RdapClient:
    policy = dataclasses.replace(
        policy_from_settings(), max_body_bytes=RDAP_MAX_BYTES, max_decompressed_bytes=4 * RDAP_MAX_BYTES,
        total_timeout=float(settings.HOTLINE_RDAP_TIMEOUT), max_redirects=3)
    return RdapClient(
        bootstrap(), policy,
        base_url=settings.HOTLINE_RDAP_BASE_URL if base_url is None else base_url,
        cache=DbRdapCache(timedelta(hours=settings.HOTLINE_RDAP_CACHE_HOURS)),
    )


def config_from_settings() -> TraceConfig:
    """The configuration the settings say, built once until a setting changes (``setting_changed``: an
    ``override_settings``); a trace asks for it every time (was some 0.15 ms each: the RDAP client's policy)."""
    return _from_settings()


@receiver(setting_changed)
def _settings_changed(**kwargs: object) -> None:
    _from_settings.cache_clear()


@lru_cache(maxsize=1)
def _from_settings() -> TraceConfig:
    timeout = float(settings.HOTLINE_DNS_TIMEOUT)
    return TraceConfig(
        resolver=ResolverConfig(nameservers=parse_resolvers(settings.HOTLINE_DNS_RESOLVERS),
                                timeout=timeout / 2, lifetime=timeout),
        rdap=rdap_client(),
        sources=tuple(country_sources(settings.HOTLINE_GEO_SOURCES)),
        asn=_asn_source(),
        max_addresses=int(settings.HOTLINE_TRACE_MAX_ADDRESSES),
        max_attempts=int(settings.HOTLINE_TRACE_ATTEMPTS),
    )
