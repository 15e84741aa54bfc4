"""Intake throughput through the batch API with 1, 2 and 4 gunicorn workers, against the COPY floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/intake_throughput.py [--urls 100000]
    python bench/intake_throughput.py --sqlite [--urls 20000]        # SQLite: one process only
    ... --before /tmp/base    # also the code of an earlier commit: git archive <commit> | tar -x -C /tmp/base

Creates a scratch database (``<name>_bench``), posts synthetic batches (30 % of URLs repeat an
earlier one, written differently) to the real WSGI application served by gunicorn on a loopback
port, from as many concurrent clients as workers. Each run starts from empty intake and audit tables.
In the same run, as baselines:

* the **COPY floor**: the same reports, items, links and audit events loaded with PostgreSQL
  ``COPY`` (rows prepared before the clock starts; no HTTP, JSON, canonicalisation, dedup or hashing);
* the **ORM bulk insert**: the same reports, items and links with ``bulk_create`` and nothing else;
* with ``--before DIR``, the code in ``DIR`` (an earlier commit) served the same way with 1 and 4 workers;
* 4 workers with a **single audit stream** (``HOTLINE_AUDIT_STREAMS=1``: every writer queues on one
  head row, as before the streams).

Prints URLs/s for each and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INTAKE_TABLES = ("reports_reportitem, reports_report, reports_item, reports_submission, "
                 "audit_auditevent, audit_auditseal")


def scratch_database(url: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_bench"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def bench_database(url: str, folder: str) -> None:
    """Point Django at a fresh database for a bench (a scratch PostgreSQL one beside ``url``, else SQLite in
    ``folder``), set it up and migrate it."""
    import os

    os.environ["DATABASE_URL"] = scratch_database(url) if url else f"sqlite:///{folder}/bench.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_batches(total: int, per_batch: int, seed: int = 7, *, independent: bool = False) -> list[dict[str, Any]]:
    """``independent``: repeats come only from the same batch, so concurrent batches share no item."""
    from hotline.demo.generator import synthetic_url, variant

    rng = random.Random(seed)
    seen: list[str] = []
    urls: list[str] = []
    for n in range(total):
        if independent and n % per_batch == 0:
            seen = []
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


def reset() -> None:
    from django.db import connection

    from hotline.audit.models import AuditHead

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {INTAKE_TABLES} CASCADE")  # TRUNCATE does not fire the row triggers
    else:
        from hotline.audit import guard

        guard.remove(connection)
        with connection.cursor() as cursor:
            for table in INTAKE_TABLES.split(", "):
                cursor.execute(f"DELETE FROM {table}")
        guard.install(connection)
    AuditHead.objects.update(position=0, hash="0" * 64)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(workers: int, env: dict[str, str], source: Path = ROOT) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        # --preload: the workers fork from a master that imported the application, so the CPU measured
        # in them is requests, not imports.
        [gunicorn, "hotline.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--preload",
         "--timeout", "600", "--log-level", "warning"],
        cwd=source, env=dict(env, PYTHONPATH=str(source)), stdout=subprocess.DEVNULL, stderr=None,
    )
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(1.0)  # let every worker finish importing the application
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def warm_up(base: str, token: str, workers: int) -> None:
    """A few one-URL submissions from as many clients as workers, so that every worker has loaded what
    it loads on its first request before the clock and the CPU meter start (the caller resets after)."""
    import httpx

    def client(c: int) -> None:
        with httpx.Client(base_url=base, timeout=600, headers={"Authorization": f"Bearer {token}"}) as http:
            for n in range(8):
                body = {"submission_id": f"warm-up-{c}-{n}", "reports": [{"urls": [f"http://w{c}-{n}.sim.test/"]}]}
                http.post("/api/v1/submissions", json=body).raise_for_status()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def post_all(base: str, token: str, bodies: list[bytes], clients: int) -> float:
    """Post every body from ``clients`` threads; return the wall time."""
    import httpx

    queue = list(reversed(bodies))
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, timeout=600, headers=headers) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                response = http.post("/api/v1/submissions", content=body)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} batches failed, e.g. {failures[0]}")
    return elapsed


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _backends() -> list[int]:
    """PostgreSQL server processes connected to the bench database (they live CONN_MAX_AGE seconds)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [row[0] for row in cursor.fetchall()]


class CpuMeter:
    """CPU seconds used between ``start`` and ``stop`` by some application processes and by the
    database server processes of the bench database (load-independent, unlike wall time)."""

    def __init__(self, app_pids: list[int]) -> None:
        self.app_pids = app_pids
        self.app = self.db = 0.0

    def __enter__(self) -> CpuMeter:
        self._app0 = {pid: _cpu_seconds(pid) for pid in self.app_pids}
        self._self0 = time.process_time()
        self._db0 = {pid: _cpu_seconds(pid) for pid in _backends()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.app = sum(_cpu_seconds(pid) - self._app0.get(pid, 0.0) for pid in self.app_pids)
        if not self.app_pids:  # the work ran in this process
            self.app = time.process_time() - self._self0
        self.db = sum(_cpu_seconds(pid) - self._db0.get(pid, 0.0) for pid in _backends())


CPU: dict[str, CpuMeter] = {}


def run_api(batches: list[dict[str, Any]], token: str, *, workers: int, streams: int, sqlite: bool,
            source: Path = ROOT, label: str = "") -> float:
    reset()
    env = dict(os.environ, HOTLINE_AUDIT_STREAMS=str(streams))
    bodies = [json.dumps(b).encode() for b in batches]
    if sqlite:  # one process; SQLite has one writer at a time anyway
        workers = 1
    proc, base = serve(workers, env, source)
    try:
        warm_up(base, token, workers)
        reset()
        with CpuMeter(_children(proc.pid)) as meter:
            elapsed = post_all(base, token, bodies, clients=workers)
        CPU[label] = meter
        return elapsed
    finally:
        proc.terminate()
        proc.wait()


def intake_counts() -> dict[str, int]:
    from hotline.audit.models import AuditEvent
    from hotline.reports.models import Item, Report, ReportItem

    return {"items": Item.objects.count(), "reports": Report.objects.count(), "links": ReportItem.objects.count(),
            "events": AuditEvent.objects.count(), "streams": AuditEvent.objects.values("stream").distinct().count()}


def copy_rows(batches: list[dict[str, Any]], items: int, events: int) -> list[dict[str, list[tuple[object, ...]]]]:
    """The same number of reports, items, links and audit events per batch, as ready COPY rows."""
    from django.utils import timezone

    now = timezone.now()
    out = []
    item_id = report_id = event_id = n = 0
    per_batch_events = -(-events // len(batches))
    for b, batch in enumerate(batches):
        rows: dict[str, list[tuple[object, ...]]] = {"report": [], "item": [], "link": [], "event": []}
        for r in batch["reports"]:
            report_id += 1
            rows["report"].append((report_id, f"HL-{report_id:014d}", "partner", "url", now, "", "", "",
                                   r["external_ref"], None, None, len(r["urls"])))
            for position, url in enumerate(r["urls"]):
                n += 1
                if n <= items:
                    item_id += 1
                    rows["item"].append((item_id, url, url, f"{item_id:064d}", "h.sim.test", "new", "", 1, 0, None,
                                         None, now, now, now, None, None, now, 0, None, None, None, None))
                    rows["link"].append((report_id, item_id, url, position))
        for _ in range(per_batch_events):
            event_id += 1
            if event_id <= events:
                rows["event"].append((event_id, event_id, 1, event_id, now, "api:bench", None, "item.created",
                                      "reports.item", str(event_id), None, json.dumps({"report": f"B{b}"}),
                                      "0" * 64, f"{event_id:064x}"))
        out.append(rows)
    return out


COPY_SQL = {
    "report": "COPY reports_report (id, reference, source, kind, received_at, language, text, reporter_contact, "
              "external_ref, api_client_id, submitted_by_id, url_count) FROM STDIN",
    "item": "COPY reports_item (id, raw_url, canonical_url, dedup_key, host, status, verdict, report_count, "
            "priority, claimed_by_id, claim_expires_at, first_reported_at, last_reported_at, status_changed_at, "
            "captured_at, unreachable_at, next_capture_at, capture_attempts, assessed_at, review_requested_at, "
            "closed_at, reopened_at) FROM STDIN",
    "link": "COPY reports_reportitem (report_id, item_id, raw_url, position) FROM STDIN",
    "event": "COPY audit_auditevent (id, seq, stream, position, at, actor_label, actor_user_id, action, "
             "object_type, object_id, before, after, prev_hash, hash) FROM STDIN",
}


def run_copy(prepared: list[dict[str, list[tuple[object, ...]]]], label: str) -> float:
    """The floor: the same rows and audit events loaded with COPY, one transaction per batch."""
    from django.db import connection, transaction

    reset()
    started = time.perf_counter()
    with CpuMeter([]) as meter:
        for rows in prepared:
            with transaction.atomic(), connection.cursor() as cursor:
                for table in ("report", "item", "link", "event"):
                    with cursor.copy(COPY_SQL[table]) as copy:
                        for row in rows[table]:
                            copy.write_row(row)
    CPU[label] = meter
    return time.perf_counter() - started


def run_orm(batches: list[dict[str, Any]], items: int) -> float:
    """The ORM floor: the same reports, items and links with bulk_create and nothing else (no audit)."""
    from django.db import transaction
    from django.utils import timezone

    from hotline.reports.models import Item, Report, ReportItem

    reset()
    now = timezone.now()
    started = time.perf_counter()
    n = 0
    for batch in batches:
        with transaction.atomic():
            reports = Report.objects.bulk_create(
                [Report(source="partner", received_at=now, url_count=len(r["urls"]))
                 for r in batch["reports"]]
            )
            new_items = []
            for report in batch["reports"]:
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
    parser.add_argument("--workers", default="1,2,4", help="gunicorn worker counts to measure")
    parser.add_argument("--sqlite", action="store_true", help="a scratch SQLite file instead of PostgreSQL")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also serve the code in DIR (e.g. `git archive <commit> | tar -x -C DIR`) with 1 and "
                             "the most workers, on the same database schema, as the baseline of a change")
    parser.add_argument("--independent", action="store_true",
                        help="repeats only within a batch: concurrent batches never wait for each other's new items")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='hotline-bench-')}/bench.sqlite3"
    elif base_url.startswith("postgres"):
        os.environ["DATABASE_URL"] = scratch_database(base_url)
    else:
        sys.exit("set DATABASE_URL to a PostgreSQL server (the bench creates its own scratch database), or --sqlite")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    os.environ["HOTLINE_API_RATE"] = "100000/m"
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from hotline.accounts.models import ClientKind
    from hotline.accounts.services import issue_api_client
    from hotline.audit.services import SYSTEM, verify

    _, token = issue_api_client("bench partner", ClientKind.PARTNER, actor=SYSTEM)
    batches = make_batches(args.urls, args.batch, independent=args.independent)
    worker_counts = [1] if args.sqlite else [int(w) for w in args.workers.split(",")]
    print(f"URLs submitted per run: {args.urls:,} in {len(batches)} batches of {args.batch:,} "
          f"({'SQLite' if args.sqlite else 'PostgreSQL'}{', independent batches' if args.independent else ''})")
    results: dict[str, float] = {}
    counts: dict[str, int] = {}

    def line(label: str, note: str = "") -> None:
        meter = CPU.get(label)
        cpu = "" if meter is None else (f"  CPU/URL: app {1e6 * meter.app / args.urls:4.0f} µs + "
                                        f"db {1e6 * meter.db / args.urls:4.0f} µs")
        print(f"{label:34} {results[label]:6.1f} s = {args.urls / results[label]:8,.0f} URLs/s{cpu}   {note}",
              flush=True)

    for workers in worker_counts:
        label = f"batch API, {workers} worker(s)"
        results[label] = run_api(batches, token, workers=workers, streams=16, sqlite=args.sqlite, label=label)
        counts = intake_counts()
        audit = verify()
        line(label, f"({counts['items']:,} items, {counts['events']:,} audit events in {counts['streams']} "
                    f"stream(s), chain {'intact' if audit.ok else 'BROKEN'})")
    befores = sorted({worker_counts[0], max(worker_counts)}) if args.before else []
    for workers in befores:
        label = f"before, {workers} worker(s)"
        results[label] = run_api(batches, token, workers=workers, streams=16, sqlite=args.sqlite,
                                 source=args.before.resolve(), label=label)
        line(label, f"(chain {'intact' if verify().ok else 'BROKEN'})")
    if not args.sqlite:
        top = max(worker_counts)
        label = f"batch API, {top} worker(s), 1 stream"
        results[label] = run_api(batches, token, workers=top, streams=1, sqlite=False, label=label)
        line(label)
        prepared = copy_rows(batches, counts["items"], counts["events"])
        results["COPY floor"] = run_copy(prepared, "COPY floor")
        line("COPY floor", "(the same rows and audit events)")
        # What the audit events cost the floor: the most a per-batch digest event could save there.
        results["COPY floor, no events"] = run_copy([rows | {"event": []} for rows in prepared],
                                                    "COPY floor, no events")
        line("COPY floor, no events")
    results["ORM bulk insert"] = run_orm(batches, counts["items"])
    line("ORM bulk insert", "(no audit)")
    best_label = min((k for k in results if k.startswith("batch API") and "1 stream" not in k),
                     key=lambda k: results[k])
    best = results[best_label]
    one = results[f"batch API, {worker_counts[0]} worker(s)"]
    print(f"ratio best API / ORM bulk insert:  {best / results['ORM bulk insert']:5.2f}x the time")
    for workers in befores:
        print(f"speed-up now vs before, {workers} worker(s): "
              f"{results[f'before, {workers} worker(s)'] / results[f'batch API, {workers} worker(s)']:5.2f}x")
        before, now = CPU[f"before, {workers} worker(s)"], CPU[f"batch API, {workers} worker(s)"]
        print(f"CPU per URL now vs before, {workers} worker(s): app {now.app / before.app:4.2f}x, "
              f"db {now.db / before.db:4.2f}x, both {(now.app + now.db) / (before.app + before.db):4.2f}x")
    if not args.sqlite:
        print(f"ratio best API / COPY floor:       {best / results['COPY floor']:5.2f}x the time")
        floor = CPU["COPY floor"]
        meter = CPU[best_label]
        print(f"ratio CPU per URL API / COPY floor: {(meter.app + meter.db) / (floor.app + floor.db):5.2f}x")
        for workers in worker_counts[1:]:
            print(f"speed-up {workers} workers vs 1:         {one / results[f'batch API, {workers} worker(s)']:5.2f}x")
        print(f"speed-up 16 streams vs 1 ({top} workers): "
              f"{results[f'batch API, {top} worker(s), 1 stream'] / results[f'batch API, {top} worker(s)']:5.2f}x")
        # Load-independent bound: every URL needs this much CPU (API workers + PostgreSQL), so on C idle
        # cores no number of workers can go faster than C / CPU-per-URL; one worker, which waits for its
        # database between steps, at most 1 / CPU-per-URL.
        per_url = (meter.app + meter.db) / args.urls
        cores = os.cpu_count() or 1
        print(f"CPU-bound ceiling of the API ({cores} idle cores): {cores / per_url:,.0f} URLs/s "
              f"(one worker: {1 / per_url:,.0f}); COPY floor {cores * args.urls / (floor.app + floor.db):,.0f}")


if __name__ == "__main__":
    main()
