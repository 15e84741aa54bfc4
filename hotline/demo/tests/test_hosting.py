from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from hotline.demo.hosting import RANGES, DemoHosting, address_for, seed_directory
from hotline.lib.geo import country_sources
from hotline.reports.models import Item
from hotline.tracing.models import Provider
from hotline.tracing.services import trace_item


def test_every_demo_range_geolocates_to_its_country_in_both_sources() -> None:
    for entry in RANGES:
        address = str(ipaddress.ip_network(entry.cidr).network_address + 77)
        countries = {source.country(address) for source in country_sources()}
        assert countries == {entry.country}, (address, countries)


def test_demo_sites_spread_over_the_countries_by_share() -> None:
    seen: Counter[str] = Counter()
    for n in range(2000):
        address = ipaddress.ip_address(address_for(f"site-{n}.sim.test"))
        [country] = [r.country for r in RANGES if address in ipaddress.ip_network(r.cidr)]
        seen[country] += 1
    for entry in RANGES:
        assert abs(seen[entry.country] / 2000 * 100 - entry.share) < 5, seen


@pytest.mark.django_db
def test_a_demo_site_traces_to_an_invented_provider(make_item: Callable[..., Item], settings: Any) -> None:
    seed_directory()
    with DemoHosting() as hosting:
        for key, value in hosting.env.items():
            setattr(settings, key, value)
        item = make_item("http://shop-42.sim.test/page")
        trace = trace_item(item, now=timezone.now())
    assert trace.outcome == "ok" and trace.country in {r.country for r in RANGES}
    assert trace.provider is not None and "(invented)" in trace.provider.name
    assert trace.abuse_contact is not None and trace.abuse_contact.email.endswith(".example")
    assert Provider.objects.filter(is_cdn=True).exists()
