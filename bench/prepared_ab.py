"""Per-call CPU of the compiled queries (``hotline.lib.prepared``) against another tree, in the same run.

    python bench/prepared_ab.py --baseline /tmp/base          # a ``git archive`` of main, say

Each tree runs in child processes of its own (its own ``sys.path``) on its own scratch SQLite file (or
``--database postgres://…``: a scratch database ``<name>_prepared`` per child), with the same synthetic rows
(20 items and their trace rows). Each call shape runs ``--calls`` times, five rounds, the best round kept; the
trees alternate, ``--repeat`` times, and the best of each is kept. Prints µs per call and this tree / baseline.
What the steps call: ``any_row`` (the idle poll), ``rows``, ``objects`` (4 instances; 1 with an annotation),
``instances`` (with ``select_related``), ``update``, and the ORM's own read of the same 4 items for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def child(code: str, calls: int) -> None:
    sys.path.insert(0, code)
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    from datetime import UTC, datetime

    from django.db.models import F

    from hotline.audit.services import SYSTEM
    from hotline.lib import prepared
    from hotline.reports.models import Item
    from hotline.reports.services import IncomingReport, receive_reports
    from hotline.tracing.models import TraceDue

    now = datetime.now(UTC)
    receive_reports([IncomingReport(source="public", urls=[f"http://site-{i}.sim.test/page" for i in range(20)])],
                    actor=SYSTEM)
    items = list(Item.objects.order_by("pk"))
    for item in items:
        TraceDue.objects.get_or_create(item=item, defaults={"due_at": now, "created_at": now})
    ids = [item.pk for item in items[:4]]
    due = list(TraceDue.objects.filter(item_id__in=ids).order_by("pk").values_list("pk", flat=True))
    shapes = {
        "any_row (idle poll)": lambda: prepared.any_row("bench.due", TraceDue.objects.due, now=now),
        "rows, 4 rows": lambda: prepared.rows(
            "bench.rows", lambda ids: Item.objects.filter(pk__in=ids).values_list("pk", "host"), ids=ids),
        "objects, 4 items": lambda: prepared.objects(
            "bench.items", lambda ids: Item.objects.filter(pk__in=ids), ids=ids),
        "objects, 1 row + annotation": lambda: prepared.objects(
            "bench.annotated", lambda ids: TraceDue.objects.filter(pk__in=ids)
            .annotate(url=F("item__canonical_url")), ids=due[:1]),
        "instances, 4 rows + related": lambda: prepared.instances(
            "bench.related", lambda ids: TraceDue.objects.filter(pk__in=ids).select_related("item"), ids=due),
        "update, 1 row": lambda: prepared.update(
            "bench.update", lambda row, now: (TraceDue.objects.filter(pk=row), {"due_at": now}), row=due[0], now=now),
        "ORM read of the 4 items (scale)": lambda: list(Item.objects.filter(pk__in=ids)),
    }
    out = {}
    for label, call in shapes.items():
        call()
        rounds = []
        for _ in range(5):
            began = time.process_time()
            for _ in range(calls):
                call()
            rounds.append((time.process_time() - began) / calls * 1e6)
        out[label] = min(rounds)
    print(json.dumps(out))


def scratch(url: str, tag: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_prepared_{tag}"
    with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="directory of the tree to compare with")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="", help="PostgreSQL URL; default SQLite")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.calls)
        return
    best: dict[str, dict[str, float]] = {"baseline": {}, "this tree": {}}
    trees = {"baseline": str(Path(args.baseline).resolve()), "this tree": str(ROOT)}
    for turn in range(args.repeat):
        for name in (list(trees) if turn % 2 == 0 else list(trees)[::-1]):
            with tempfile.TemporaryDirectory() as tmp:
                url = scratch(args.database, name.replace(" ", "_")) if args.database \
                    else f"sqlite:///{tmp}/bench.sqlite3"
                env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": trees[name]}
                found = subprocess.run([sys.executable, __file__, "--baseline", args.baseline, "--calls",
                                        str(args.calls), "--child", trees[name]], env=env, check=True,
                                       capture_output=True, text=True, cwd=tmp)
            for label, value in json.loads(found.stdout.strip().splitlines()[-1]).items():
                best[name][label] = min(value, best[name].get(label, value))
    print(f"{'CPU µs per call (best of ' + str(args.repeat) + ')':44s} {'baseline':>10s} {'this tree':>10s}  ratio")
    for label, base in best["baseline"].items():
        ours = best["this tree"][label]
        print(f"{label:44s} {base:10.1f} {ours:10.1f}  {ours / base:.2f}")


if __name__ == "__main__":
    main()
