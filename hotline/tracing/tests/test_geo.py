"""Offline geolocation on known public addresses: two independent country sources and the network."""

from __future__ import annotations

import pytest

from hotline.lib import geo
from hotline.lib.geo import AsnSource, CountrySource, country_sources, register
from hotline.tracing.providers import as_numbers


def _countries(ip: str) -> dict[str, str | None]:
    return {source.name: source.country(ip) for source in country_sources(["iptocc", "geoip2fast"])}


def test_it_places_google_public_dns_in_the_us_on_as15169() -> None:
    assert _countries("8.8.8.8") == {"iptocc": "US", "geoip2fast": "US"}
    network = AsnSource(as_numbers()).lookup("8.8.8.8")
    assert network is not None and (network.asn, network.name, network.prefix) == (15169, "GOOGLE", "8.8.8.0/24")


def test_it_places_ipv6_addresses() -> None:
    assert _countries("2001:4860:4860::8888") == {"iptocc": "US", "geoip2fast": "US"}
    network = AsnSource(as_numbers()).lookup("2606:4700::1")
    assert network is not None and (network.asn, network.name) == (13335, "CLOUDFLARENET")


def test_the_two_sources_are_independent_and_can_disagree() -> None:
    # RIR delegation (iptocc) says where the block is assigned; GeoLite2 where it is used.
    assert _countries("95.216.0.1") == {"iptocc": "DE", "geoip2fast": "FI"}


def test_private_and_reserved_addresses_are_in_no_data_set() -> None:
    for ip in ("10.1.2.3", "127.0.0.1", "192.0.2.1", "::1", "fe80::1", "not-an-ip"):
        assert _countries(ip) == {"iptocc": None, "geoip2fast": None}, ip
        assert AsnSource(as_numbers()).lookup(ip) is None


def test_an_as_name_missing_from_the_table_gives_no_number() -> None:
    network = AsnSource({}).lookup("8.8.8.8")
    assert network is not None and (network.asn, network.name) == (None, "GOOGLE")


def test_a_source_is_one_registered_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geo, "_REGISTRY", dict(geo._REGISTRY))  # leave no test source behind

    @register
    class Fixed(CountrySource):
        name = "fixed-test"

        def _country(self, ip: str) -> str | None:
            return "BE"

    assert [s.country("8.8.8.8") for s in country_sources(["fixed-test", "iptocc"])] == ["BE", "US"]
    assert country_sources(["fixed-test"])[0].country("10.0.0.1") is None  # never asked about private space
    with pytest.raises(ValueError, match="unknown geolocation source"):
        country_sources(["nope"])
