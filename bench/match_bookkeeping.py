"""The cost of trusting known content: ``hashes.services.match_capture`` with and without the extra
bookkeeping (support flags on matches, the flood check per matched entry), in the same run.

    .venv/bin/python bench/match_bookkeeping.py                     # scratch SQLite file
    .venv/bin/python bench/match_bookkeeping.py --database postgres://postgres@127.0.0.1:5432/test

Fills a scratch database with ``--entries`` SHA-256 entries in a trusted partner bank and ``--captures``
captures of ``--media`` files each (all synthetic hex); about half the files are in the bank, a tenth of
them among 20 popular entries (re-uploads, so the flood check counts real history, below the threshold).
Captures are matched alternately with the product's path and with the baseline, where the flood check is
replaced by a no-op (the only extra work per capture; the support flag rides on the same insert). Prints
captures per second for each and the ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--captures", type=int, default=1000)
    parser.add_argument("--media", type=int, default=5)
    parser.add_argument("--database", default="", help="PostgreSQL URL (a scratch database is made); default SQLite")
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory()
    from intake_throughput import bench_database

    bench_database(args.database, folder.name)
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from hotline.evidence.models import Capture, Media
    from hotline.hashes import services
    from hotline.hashes.models import Bank, Entry, MediaMatch
    from hotline.hashes.services import trust
    from hotline.reports.models import Item

    rng = random.Random(7)
    now = timezone.now()
    bank = Bank.objects.create(name="bench partner", kind="partner", trusted=True)
    values = [f"{rng.getrandbits(256):064x}" for _ in range(args.entries)]
    Entry.objects.bulk_create([Entry(bank=bank, signal_type="sha256", value=v, verdict="baseline", classification="1",
                                     scheme="vics-us", source_id=f"bench-{n}", added_at=now)
                               for n, v in enumerate(values)], batch_size=5000)
    services.bump_version()
    popular = values[:20]
    items = Item.objects.bulk_create([Item(raw_url=f"http://site-{n}.sim.test/", canonical_url=f"http://site-{n}.sim.test/",
                                           dedup_key=f"bench-{n}", host=f"site-{n}.sim.test", status="captured",
                                           first_reported_at=now, last_reported_at=now, status_changed_at=now)
                                      for n in range(args.captures)], batch_size=2000)
    captures = Capture.objects.bulk_create([Capture(item=i, started_at=now, finished_at=now, outcome="captured",
                                                    requested_url=i.canonical_url, final_url=i.canonical_url,
                                                    http_status=200) for i in items], batch_size=2000)
    media = []
    for capture in captures:
        for k in range(args.media):
            roll = rng.random()
            value = (rng.choice(popular) if roll < 0.05 else rng.choice(values) if roll < 0.5
                     else f"{rng.getrandbits(256):064x}")
            media.append(Media(capture=capture, item_id=capture.item_id, url=f"{capture.final_url}m{k}.png",
                               kind="image", mime="image/png", size=1000, sha256=value, fetched_at=now))
    Media.objects.bulk_create(media, batch_size=5000)

    real_check = trust.check_floods
    timings: dict[str, list[float]] = {"with bookkeeping": [], "baseline (no flood check)": []}
    query_counts: dict[str, list[int]] = {label: [] for label in timings}

    def baseline(entry_ids: object, *, now: object) -> list[int]:
        return []

    services.lookup([("sha256", values[0])])  # warm up
    for n, capture in enumerate(Capture.objects.order_by("pk").select_related("item")):
        label = "with bookkeeping" if n % 2 == 0 else "baseline (no flood check)"
        trust.check_floods = real_check if n % 2 == 0 else baseline
        start = time.perf_counter()
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            services.match_capture(capture, now=timezone.now())
        timings[label].append(time.perf_counter() - start)
        query_counts[label].append(len(queries))
    trust.check_floods = real_check

    print(f"{connection.vendor}: {args.entries:,} entries, {args.captures:,} captures x {args.media} files;"
          f" {MediaMatch.objects.count():,} matches, {MediaMatch.objects.supports().count():,} supports,"
          f" {Entry.objects.filter(status='quarantined').count()} quarantined")
    rates = {}
    for label, times in timings.items():
        times.sort()
        rates[label] = len(times) / sum(times)
        per_capture = sum(query_counts[label]) / len(times)
        print(f"  {label:28s} {rates[label]:8.1f} captures/s  (p50 {times[len(times) // 2] * 1000:.2f} ms,"
              f" p90 {times[int(len(times) * 0.9)] * 1000:.2f} ms; {per_capture:.1f} queries)")
    ratio = rates["with bookkeeping"] / rates["baseline (no flood check)"]
    print(f"  throughput ratio with/without bookkeeping: {ratio:.3f}")
    folder.cleanup()


if __name__ == "__main__":
    main()
