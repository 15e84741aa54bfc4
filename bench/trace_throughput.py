"""Trace throughput with a DNS stub and an RDAP server on loopback, against bare DNS resolution.

    .venv/bin/python bench/trace_throughput.py [--items 200] [--concurrency 8] [--database postgres://...]

N assessed items on N simulated hosts (one in five behind a CNAME to a CDN edge; addresses drawn
from a pool of public-looking networks) are traced by the worker step: DNS (A + AAAA), two
offline country sources, offline ASN, RDAP (cold cache: one query per network range), directory
lookups, the snapshot row and its audit event. Then they are traced again (warm RDAP cache, as
before every outbound action). The floor is bare dnspython resolution (A + AAAA) of the same
names at the same concurrency, measured in the same run. The DNS and RDAP servers run in their
own process, as remote servers would.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Public-looking networks (looked up offline only, never connected to): (address prefix, RDAP range, country).
POOL = [("8.8.8.", "8.8.8.0/24", "US"), ("5.6.7.", "5.6.0.0/16", "DE"), ("95.216.0.", "95.216.0.0/16", "DE"),
        ("193.190.0.", "193.190.0.0/15", "BE"), ("194.78.0.", "194.78.0.0/16", "BE"),
        ("151.101.1.", "151.101.0.0/16", "US"), ("81.82.0.", "81.82.0.0/15", "BE")]
CDN_EDGE = "104.16.1.1"


def zone(items: int) -> dict[str, dict[str, object]]:
    records: dict[str, dict[str, object]] = {"edge.cdn.sim.test": {"A": [CDN_EDGE], "AAAA": ["2606:4700::1"]}}
    for n in range(items):
        prefix = POOL[n % len(POOL)][0]
        if n % 5 == 4:
            records[f"site-{n}.sim.test"] = {"CNAME": "edge.cdn.sim.test"}
        else:
            records[f"site-{n}.sim.test"] = {"A": [f"{prefix}{1 + n % 200}"]}
    return records


def serve(items: int, queue: multiprocessing.Queue[tuple[str, str]]) -> None:
    from hotline.sim.dns import SimDns
    from hotline.sim.rdap import SimNetwork, SimRdap

    networks = [SimNetwork(cidr, country=cc, name=f"NET-{i}", registrant=f"Bench Hosting {i}",
                           abuse=f"abuse@hosting-{i}.example") for i, (_, cidr, cc) in enumerate(POOL)]
    networks += [SimNetwork("104.16.0.0/13", country="US", registrant="Cloudflare, Inc."),
                 SimNetwork("2606:4700::/32", country="US", registrant="Cloudflare, Inc.")]
    with SimDns(zone(items)) as dns_server, SimRdap(networks) as rdap:
        queue.put((dns_server.spec, rdap.base_url))
        while True:
            time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", default="", help="DATABASE_URL (default: a scratch SQLite file)")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="hotline-bench-")
    if args.database.startswith("postgres"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from intake_throughput import scratch_database

        os.environ["DATABASE_URL"] = scratch_database(args.database)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    queue: multiprocessing.Queue[tuple[str, str]] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.items, queue), daemon=True)
    server.start()
    dns_spec, rdap_url = queue.get(timeout=30)
    try:
        run(args, dns_spec, rdap_url)
    finally:
        server.terminate()


def run(args: argparse.Namespace, dns_spec: str, rdap_url: str) -> None:
    from django.conf import settings
    from django.utils import timezone

    from hotline.audit.services import SYSTEM
    from hotline.lib.dnsresolve import ResolverConfig, parse_resolvers, resolve_host
    from hotline.lib.geo import country_sources
    from hotline.reports.models import Item, ItemStatus, Source
    from hotline.reports.services import IncomingReport, receive_reports
    from hotline.tracing.importer import load_cdns
    from hotline.tracing.models import Trace
    from hotline.tracing.services import request_trace
    from hotline.tracing.steps import trace_step

    settings.HOTLINE_DNS_RESOLVERS, settings.HOTLINE_RDAP_BASE_URL = dns_spec, rdap_url
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    load_cdns(actor=SYSTEM)
    hosts = [f"site-{n}.sim.test" for n in range(args.items)]
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=[f"http://{h}/page"]) for h in hosts], actor=SYSTEM)
    now = timezone.now()
    for item in Item.objects.all():
        fields = item.transition(ItemStatus.CAPTURED, now=now) + item.transition(ItemStatus.ASSESSED, now=now)
        item.verdict = "baseline"
        item.save(update_fields=[*set(fields), "verdict"])
    started = time.perf_counter()
    country_sources()[1].country("8.8.8.8")  # the one-off geoip2fast load, outside the timings
    load_seconds = time.perf_counter() - started

    def drain() -> float:
        began = time.perf_counter()
        while trace_step(now=timezone.now(), concurrency=args.concurrency):
            pass
        return time.perf_counter() - began

    cold = drain()
    for item in Item.objects.all():
        request_trace(item, actor=SYSTEM, now=timezone.now())
    warm = drain()
    traced = Trace.objects.filter(outcome="ok").count()
    resolver = ResolverConfig(nameservers=parse_resolvers(dns_spec))
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        resolved = list(pool.map(lambda h: resolve_host(h, config=resolver), hosts))
    bare = time.perf_counter() - began
    assert traced == 2 * args.items and all(r.addresses for r in resolved), (traced, args.items)
    n = args.items
    print(f"items: {n}, concurrency {args.concurrency}, database {connection_name()}")
    print(f"geoip2fast data load (once per process): {load_seconds:6.2f} s")
    print(f"trace, cold RDAP cache:        {cold:6.2f} s = {n / cold:7.1f} items/s")
    print(f"trace again, warm RDAP cache:  {warm:6.2f} s = {n / warm:7.1f} items/s")
    print(f"bare DNS (A + AAAA), floor:    {bare:6.2f} s = {n / bare:7.1f} names/s")
    print(f"ratio trace / bare DNS:        cold {cold / bare:5.1f}x the time, warm {warm / bare:5.1f}x the time")


def connection_name() -> str:
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    main()
