"""Outcome CSV import against the same outcomes recorded one by one (the service a naive import would loop over).

    .venv/bin/python bench/case_outcome_import.py [--cases 500] [--database postgres://postgres@127.0.0.1:5432/h_cases]

Opens `--cases` synthetic cases (one generated item each), writes a CSV of four outcome events per case
(received, investigation, dismissed with a reason, plus a repeat of the first: idempotency), then:
  1. baseline: the same outcomes recorded line by line with `services.record_outcome` (one transaction,
     one case lock and one audit append per line) on a second, identical set of cases;
  2. `services.import_outcomes` of the whole file (one transaction, cases locked once, one bulk
     insert, one audit append for the batch);
  3. the same file imported again (everything already there).
Prints lines/s for each and the ratio of 2 to 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=500)
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

    settings.HOTLINE_CASES_IMPORT_MAX_BYTES = 100 * 1024 * 1024
    call_command("migrate", verbosity=0)
    run(args.cases)


def run(count: int) -> None:
    from hotline.cases.outcome_import import import_outcomes

    from hotline.audit.services import SYSTEM
    from hotline.cases.services import open_case, record_outcome
    from hotline.reports.models import Item
    from hotline.reports.services import IncomingReport, receive_reports

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    urls = [f"http://site-{n}.sim.test/page" for n in range(count)]
    results = receive_reports([IncomingReport(source="csv", urls=[url]) for url in urls], actor=SYSTEM)
    items = list(Item.objects.filter(pk__in=[r.urls[0].item_id for r in results]).order_by("pk"))
    baseline_cases = [open_case(f"baseline {n}", "same_site", [item], actor=SYSTEM, now=now)
                      for n, item in enumerate(items)]
    cases = [open_case(f"import {n}", "same_site", [item], actor=SYSTEM, now=now) for n, item in enumerate(items)]
    events = [("received", date(2026, 1, 10), ""), ("investigation", date(2026, 2, 1), ""),
              ("dismissed", date(2026, 4, 1), "offender_unknown"), ("received", date(2026, 1, 10), "")]

    started = time.perf_counter()
    for case in baseline_cases:
        for code, on, reason in events[:3]:
            record_outcome(case, code, on, actor=SYSTEM, now=now, reason=reason)
    baseline = time.perf_counter() - started

    lines = ["case_reference,outcome,date,reason,note"] + [
        f"{case.reference},{code},{on.isoformat()},{reason}," for case in cases for code, on, reason in events]
    data = ("\n".join(lines) + "\n").encode()
    started = time.perf_counter()
    batch = import_outcomes(data, filename="bench.csv", actor=SYSTEM, now=now)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    again = import_outcomes(data, filename="bench.csv", actor=SYSTEM, now=now)
    reimported = time.perf_counter() - started

    n_lines = len(lines) - 1
    assert (batch.created, batch.existing, batch.error_count) == (3 * count, count, 0), batch.errors[:3]
    assert (again.created, again.existing) == (0, 4 * count)
    print(f"cases: {count}, CSV lines: {n_lines}, outcomes created: {batch.created}")
    print(f"baseline, record_outcome per line: {3 * count / baseline:10.0f} outcomes/s ({baseline:.2f} s)")
    print(f"import_outcomes, whole file:       {n_lines / imported:10.0f} lines/s    ({imported:.2f} s)")
    print(f"re-import (all already there):     {n_lines / reimported:10.0f} lines/s    ({reimported:.2f} s)")
    print(f"ratio import / baseline (per outcome created): {(3 * count / imported) / (3 * count / baseline):.1f}x")


if __name__ == "__main__":
    main()
