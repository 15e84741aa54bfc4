"""Intake throughput through the batch API, against a raw bulk insert of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/intake_throughput.py [--urls 100000]

Creates a scratch database (``<name>_bench``), starts the real WSGI app on a loopback port, posts
synthetic batches (30 % of URLs repeat an earlier one, written differently) and then, in the same
run, bulk-inserts the same number of reports, items and links with no canonicalisation, dedup or
audit. Prints URLs/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse
from wsgiref.simple_server import WSGIRequestHandler, make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def scratch_database(url: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_bench"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def make_batches(total: int, per_batch: int, seed: int = 7) -> list[dict[str, object]]:
    from hotline.demo.generator import synthetic_url, variant

    rng = random.Random(seed)
    seen: list[str] = []
    urls: list[str] = []
    for _ in range(total):
        if seen and rng.random() < 0.30:
            urls.append(variant(rng, rng.choice(seen)))
        else:
            url = synthetic_url(rng, host=f"site-{rng.randrange(20_000)}.sim.test")
            seen.append(url)
            urls.append(url)
    batches = []
    for b, start in enumerate(range(0, total, per_batch)):
        chunk = urls[start : start + per_batch]
        reports = [{"urls": chunk[i : i + 2], "external_ref": f"B{b}-{i}"} for i in range(0, len(chunk), 2)]
        batches.append({"submission_id": f"bench-{b}", "reports": reports})
    return batches


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def run_api(batches: list[dict[str, object]], token: str) -> tuple[float, dict[str, int]]:
    import httpx
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    counts = {"created": 0, "merged": 0, "rejected": 0}
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=300, headers={"Authorization": f"Bearer {token}"}) as client:
        for batch in batches:
            response = client.post("/api/v1/submissions", json=batch)
            response.raise_for_status()
            for key, value in response.json()["counts"].items():
                counts[key] += value
    elapsed = time.perf_counter() - started
    server.shutdown()
    return elapsed, counts


def run_raw(batches: list[dict[str, object]], items: int) -> float:
    """The floor: the same rows written with bulk_create and nothing else."""
    from django.db import connection, transaction
    from django.utils import timezone

    from hotline.reports.models import Item, Report, ReportItem

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reports_reportitem, reports_report, reports_item, reports_submission CASCADE")
    now = timezone.now()
    started = time.perf_counter()
    n = 0
    for batch in batches:
        with transaction.atomic():
            reports = Report.objects.bulk_create(
                [Report(source="partner", received_at=now, url_count=len(r["urls"]))  # type: ignore[index,arg-type]
                 for r in batch["reports"]]  # type: ignore[union-attr,attr-defined]
            )
            new_items = []
            for report in batch["reports"]:  # type: ignore[union-attr,attr-defined]
                for url in report["urls"]:
                    n += 1
                    if n <= items:
                        new_items.append(Item(raw_url=url, canonical_url=url, dedup_key=f"{n:064d}",
                                              host="h", first_reported_at=now, last_reported_at=now,
                                              status_changed_at=now))
            created = Item.objects.bulk_create(new_items)
            links = [ReportItem(report=reports[i % len(reports)], item=item, raw_url=item.raw_url, position=0)
                     for i, item in enumerate(created)]
            ReportItem.objects.bulk_create(links, ignore_conflicts=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (the bench creates its own scratch database)")
    os.environ["DATABASE_URL"] = scratch_database(base_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    os.environ["HOTLINE_API_RATE"] = "100000/m"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from hotline.accounts.models import ClientKind
    from hotline.accounts.services import issue_api_client
    from hotline.audit.services import SYSTEM, verify

    _, token = issue_api_client("bench partner", ClientKind.PARTNER, actor=SYSTEM)
    batches = make_batches(args.urls, args.batch)
    api_seconds, counts = run_api(batches, token)
    audit = verify()
    raw_seconds = run_raw(batches, counts["created"])
    print(f"URLs submitted:          {args.urls:,} in {len(batches)} batches of {args.batch:,}")
    print(f"result:                  {counts['created']:,} new items, {counts['merged']:,} merged, "
          f"{counts['rejected']:,} rejected; audit chain {'intact' if audit.ok else 'BROKEN'} "
          f"({audit.checked:,} events)")
    print(f"batch API end to end:    {api_seconds:6.1f} s  = {args.urls / api_seconds:8,.0f} URLs/s")
    print(f"raw bulk insert (floor): {raw_seconds:6.1f} s  = {args.urls / raw_seconds:8,.0f} URLs/s")
    print(f"ratio API / raw:         {api_seconds / raw_seconds:6.1f}x the time of the bare insert")


if __name__ == "__main__":
    main()
