"""Capture throughput against the simulated web, and the bare fetches of the same files as the floor.

    .venv/bin/python bench/capture_throughput.py [--items 50] [--database postgres://postgres@127.0.0.1:5432/test]

50 items on 50 simulated sites (each page embeds 11 media files: PNG, JPEG, GIF, WebP, animated GIF,
MP4) are captured at once by the capture worker step (50 items in parallel): fetch, sniff, hash
(MD5, SHA-1, SHA-256, PDQ, vPDQ-style), encrypt and store, WARC, database rows, audit. Then the
same page and media URLs are fetched again with the bare safe fetcher, at the same concurrency, as
the floor. Prints media files/s for both and the ratio.
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
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50)
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
    from django.conf import settings
    from django.core.management import call_command

    settings.HOTLINE_STORE = {"BACKEND": "filesystem", "ROOT": f"{scratch}/store"}
    call_command("migrate", verbosity=0)

    from hotline.audit.services import SYSTEM
    from hotline.evidence.models import Media
    from hotline.evidence.services import CaptureConfig
    from hotline.evidence.steps import capture_step
    from hotline.lib.http import fetch
    from hotline.reports.models import Source
    from hotline.reports.services import IncomingReport, receive_reports

    server, policy = start_site()
    try:
        urls = [f"http://site-{n}.sim.test/album/{n}/" for n in range(args.items)]
        receive_reports([IncomingReport(source=Source.PUBLIC, urls=[u]) for u in urls], actor=SYSTEM)
        started = time.perf_counter()
        capture_step(config=CaptureConfig(policy=policy), concurrency=args.items)
        capture_seconds = time.perf_counter() - started
        media_urls = list(Media.objects.values_list("url", flat=True))
        files = len(media_urls)

        def bare(url: str) -> int:
            return len(fetch(url, policy=policy).body)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.items) as pool:
            list(pool.map(bare, urls))
        with ThreadPoolExecutor(max_workers=args.items) as pool:
            list(pool.map(bare, media_urls))
        fetch_seconds = time.perf_counter() - started
    finally:
        server.terminate()
    print(f"items captured in parallel:   {args.items} ({files} media files, {connection_name()})")
    print(f"capture (everything):         {capture_seconds:6.2f} s = {files / capture_seconds:7.1f} media files/s")
    print(f"bare fetches (floor):         {fetch_seconds:6.2f} s = {files / fetch_seconds:7.1f} media files/s")
    print(f"ratio capture / bare fetch:   {capture_seconds / fetch_seconds:6.1f}x the time")


def start_site() -> tuple[multiprocessing.Process, Any]:
    """The simulated web started in a process of its own (``serve``), and the fetch policy that reaches it: every
    ``*.sim.test`` host on loopback, port 80 mapped to the site's. The caller terminates the process."""
    from hotline.lib.http import FetchPolicy

    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(queue,), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    return server, FetchPolicy(allow_loopback=True, host_map={"*.sim.test": "127.0.0.1"}, port_map={80: port})


def serve(queue: multiprocessing.Queue[int]) -> None:
    """The simulated web in its own process, as a real remote site would be."""
    from hotline.sim.web import SimWeb

    with SimWeb(suffixes=(".sim.test",), catch_all=True) as sim:
        queue.put(sim.port)
        while True:
            time.sleep(3600)


def connection_name() -> str:
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    # this tree's hotline; not done on import, as capture_ab.py imports start_site into a run of another tree
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
