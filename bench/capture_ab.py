"""CPU of the capture step alone, this tree against another (a `git archive` of main), measured in the same run.

    PYTHONPATH=$PWD .venv/bin/python bench/capture_ab.py --baseline /tmp/base --items 160 --repeat 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME ... (a scratch database NAME_capab is made and dropped)

Each run is a fresh process with the tree first on the path, a scratch database and store: ``--items`` items are
reported, each a page of the simulated web with one PNG (the simulation's ``/page/N``), served from a separate
process (so the process's CPU is the product's alone), and the capture worker step runs until none is due,
``--batch`` items a step, as the cost bench's simulation runs it. The first step (compiling queries, starting
the kept threads) is not measured. Prints CPU ms per item (``time.process_time``: every thread of the process)
and the queries per item, each run's, and the ratio of the means (runs interleaved: baseline, this tree, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def scratch_database(url: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_capab"  # not the cost bench's scratch: both may run at once
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def child(items: int, batch: int) -> None:
    import logging

    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from capture_throughput import start_site  # the simulated site, as capture_throughput.py starts it

    from hotline.audit.services import SYSTEM
    from hotline.evidence.models import Capture
    from hotline.evidence.services import CaptureConfig
    from hotline.evidence.steps import capture_step
    from hotline.reports.models import Source
    from hotline.reports.services import IncomingReport, receive_reports

    server, policy = start_site()
    try:
        config = CaptureConfig(policy=policy)
        urls = [f"http://site-{n % 40}.sim.test/page/{n}" for n in range(items + batch)]
        receive_reports([IncomingReport(source=Source.PUBLIC, urls=[u]) for u in urls], actor=SYSTEM)
        capture_step(config=config, concurrency=batch)  # warm: queries compiled, threads started
        measured = Capture.objects.count()
        queries = CaptureQueriesContext(connection) if os.environ.get("CAPTURE_AB_QUERIES") else None
        began = time.process_time()
        if queries is not None:
            with queries:
                while capture_step(config=config, concurrency=batch):
                    pass
        else:
            while capture_step(config=config, concurrency=batch):
                pass
        cpu = time.process_time() - began
        done = Capture.objects.count() - measured
        outcomes = dict(Capture.objects.values_list("outcome").annotate(n=django.db.models.Count("pk")))
    finally:
        server.terminate()
    print(json.dumps({"captures": done, "cpu_ms": cpu * 1000 / max(done, 1), "outcomes": outcomes,
                      "queries": len(queries.captured_queries) / max(done, 1) if queries is not None else None}))


def run(code: str, items: int, batch: int, database_url: str, queries: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="capture-ab-") as folder:
        url = scratch_database(database_url) if database_url else f"sqlite:///{folder}/c.sqlite3"
        env = os.environ | {"DATABASE_URL": url, "HOTLINE_VAR_DIR": folder, "HOTLINE_DEBUG": "false",
                            "PYTHONPATH": code, "CAPTURE_AB_QUERIES": "1" if queries else ""}
        done = subprocess.run([sys.executable, __file__,
                               "--child", "--items", str(items), "--batch", str(batch)],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"the run ({code}) failed:\n{done.stderr[-4000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=160)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", required=False, help="another tree of the code, measured the same way")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, os.environ["PYTHONPATH"])
        child(args.items, args.batch)
        return
    database_url = os.environ.get("DATABASE_URL", "")
    trees = ([("baseline", str(Path(args.baseline).resolve()))] if args.baseline else []) + [("this tree", str(ROOT))]
    print(f"{'PostgreSQL' if database_url else 'SQLite'}, {args.items} items, {args.batch} a step, "
          f"load average {os.getloadavg()[0]:.1f}")
    for label, code in trees:  # the queries counted in a run of their own (counting them costs CPU)
        got = run(code, args.items, args.batch, database_url, queries=True)
        print(f"  {label}: {got['captures']} captures {got['outcomes']}, {got['queries']:.2f} queries per capture")
    cpu: dict[str, list[float]] = {label: [] for label, _ in trees}
    for _ in range(args.repeat):
        for label, code in trees:
            got = run(code, args.items, args.batch, database_url, queries=False)
            cpu[label].append(float(got["cpu_ms"]))  # type: ignore[arg-type]
            print(f"  {label}: {got['captures']} captures {got['outcomes']}, {got['cpu_ms']:.2f} ms CPU each, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for label, _ in trees:
        print(f"{label}: mean {statistics.mean(cpu[label]):.2f} ms, median {statistics.median(cpu[label]):.2f} ms")
    if args.baseline:
        print(f"this tree / baseline: mean {statistics.mean(cpu['this tree']) / statistics.mean(cpu['baseline']):.3f}, "
              f"median {statistics.median(cpu['this tree']) / statistics.median(cpu['baseline']):.3f}")


if __name__ == "__main__":
    main()
