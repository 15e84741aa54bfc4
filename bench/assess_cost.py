"""CPU and queries per item of the analyst's services (issue 21, goal 3): ``claim_item`` then ``assess_item``,
as the scripted analyst of ``hotline simulate`` calls them and as the workbench does on every decision.

    python bench/assess_cost.py --baseline /tmp/base_assess [--items 60] [--media 3] [--rounds 3] \
        [--database postgres://postgres@127.0.0.1:5432/NAME] [--profile /tmp/assess.prof]

Each run is a fresh child process on a fresh scratch database (SQLite file, or ``<NAME>_assess_cost`` on
PostgreSQL; settings ``hotline.settings_test``, DEBUG off). ``--items`` captured items of ``--media`` files
each are made; the analyst claims and assesses each in turn with the simulation's scripted labels
(``demo.verdict_labels.SCRIPTED``, in turn baseline, not illegal and unreachable: the first two final at once,
with their files' hashes proposed for the own bank). A first wave, not measured, pays the one-time costs
(compiled templates, the own bank, the audit heads); the second wave is measured: the main thread's CPU
(``time.thread_time``) and every statement sent (``connection.execute_wrapper``, transactions included).

``--baseline`` names a checkout of the code to compare with (``git archive main``): both run in alternating
order, ``--rounds`` times each, the best run of each kept, and the ratio printed. ``--profile FILE`` writes a
cProfile (thread CPU) of the measured wave and ``FILE.sql`` with the statements by shape, most frequent first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ the child: one measured run


def child(items: int, media: int, profile: str) -> None:
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from hotline.accounts.models import Role
    from hotline.accounts.services import create_user
    from hotline.audit.services import SYSTEM

    analyst = create_user("bench-analyst", "not-a-real-password-1", Role.ANALYST, actor=SYSTEM)
    wave(analyst, items, media, 0)  # warm-up: not measured
    print(json.dumps(wave(analyst, items, media, 1, profile=profile)))


def seed(items: int, media: int, number: int) -> list[Any]:
    """Captured items, each with one capture of ``media`` distinct files (synthetic hashes: no file is read)."""
    import hashlib

    from django.utils import timezone

    from hotline.evidence.models import Capture, Media
    from hotline.reports.models import Item, ItemStatus

    now = timezone.now()
    hosts = [f"w{number}-i{n}.sim.test" for n in range(items)]
    made = Item.objects.bulk_create([Item(
        raw_url=f"http://{host}/page", canonical_url=f"http://{host}/page", dedup_key=f"bench-{host}", host=host,
        status=ItemStatus.CAPTURED, first_reported_at=now, last_reported_at=now, status_changed_at=now,
        captured_at=now) for host in hosts])
    captures = Capture.objects.bulk_create([Capture(
        item=item, started_at=now, finished_at=now, outcome="captured", requested_url=item.canonical_url,
        final_url=item.canonical_url, http_status=200, peer_ip="127.0.0.1") for item in made])

    def digest(name: str, text: str) -> str:
        return hashlib.new(name, text.encode()).hexdigest()

    Media.objects.bulk_create([Media(
        capture=capture, item=capture.item, url=f"{capture.item.canonical_url}/m{k}.png", kind="image",
        mime="image/png", size=1000, sha256=digest("sha256", f"{capture.pk}-{k}"),
        md5=digest("md5", f"{capture.pk}-{k}"),
        pdq=digest("sha256", f"pdq-{capture.pk}-{k}"), pdq_quality=100, width=320, height=240, fetched_at=now)
        for capture in captures for k in range(media)])
    return made


def wave(analyst: Any, items: int, media: int, number: int, profile: str = "") -> dict[str, Any]:
    """Claim and assess every seeded item in turn, measured (the set-up is not)."""
    from django.db import connection
    from django.utils import timezone

    from hotline.assessment.services import assess_item, claim_item
    from hotline.demo.verdict_labels import SCRIPTED

    made = seed(items, media, number)
    labels = [SCRIPTED["baseline"], SCRIPTED["not_illegal"], SCRIPTED["gone"]]
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU of this thread, not waiting
        profiler.enable()
    shapes: Counter[str] = Counter()

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        shapes[re.sub(r"\b\d+\b|(?<=_x)\d+|(?<=\"s)\d+", "?", sql)[:160]] += 1
        return execute(sql, params, many, context)

    thread, wall = time.thread_time(), time.perf_counter()
    with connection.execute_wrapper(count):
        for n, item in enumerate(made):
            now = timezone.now()
            claim_item(item, user=analyst, now=now)
            assess_item(item, labels[n % len(labels)], user=analyst, now=now)
    thread, wall = time.thread_time() - thread, time.perf_counter() - wall
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
        with open(f"{profile}.sql", "w") as out:
            out.writelines(f"{n:>6} {sql}\n" for sql, n in shapes.most_common())
    return {"items": len(made), "cpu": thread, "wall": wall, "queries": sum(shapes.values())}


# ------------------------------------------------------------------ the parent: A/B in alternating order


def measure(root: Path, args: argparse.Namespace, side: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "bench"))
    from notice_cost import run_side

    child_args = ["--items", str(args.items), "--media", str(args.media)]
    result = run_side(__file__, root, side, args.database,
                      child_args + (["--profile", f"{args.profile}.{side}"] if args.profile else []))
    if result["items"] != args.items:
        sys.exit(f"the {side} run assessed {result['items']} items of {args.items}")
    return result


def per_item(result: dict[str, Any], key: str) -> float:
    return float(result[key]) * 1000 / result["items"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--media", type=int, default=3, help="files per item")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="", help="a checkout of the code to compare with")
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: a scratch SQLite file)")
    parser.add_argument("--profile", default="", help="write a cProfile of the measured wave here (.after, .before)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.items, args.media, args.profile)
        return
    sides = {"after": ROOT} | ({"before": Path(args.baseline).resolve()} if args.baseline else {})
    print(f"{'PostgreSQL' if args.database else 'SQLite'}: {args.items} items of {args.media} files, "
          f"{args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    sys.path.insert(0, str(ROOT / "bench"))
    from notice_cost import interleaved

    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for number, side, result in interleaved(sides, args.rounds, lambda root, side: measure(root, args, side)):
        runs[side].append(result)
        print(f"  round {number + 1} {side:<6} CPU {per_item(result, 'cpu'):6.2f} ms per claim+assess, "
              f"wall {per_item(result, 'wall'):6.2f}, queries {result['queries'] / result['items']:.1f}, "
              f"load average {os.getloadavg()[0]:.1f}")
    best = {side: min(found, key=lambda r: r["cpu"]) for side, found in runs.items()}
    for side, result in best.items():
        print(f"{side:<7} best CPU ms per claim+assess {per_item(result, 'cpu'):.2f}, "
              f"queries {result['queries'] / result['items']:.1f}")
    if "before" in best:
        ratio = best["before"]["cpu"] / best["after"]["cpu"]
        print(f"RESULT cpu_ms_per_item before={per_item(best['before'], 'cpu'):.2f} "
              f"after={per_item(best['after'], 'cpu'):.2f} before/after={ratio:.2f} queries "
              f"before={best['before']['queries'] / args.items:.1f} after={best['after']['queries'] / args.items:.1f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
