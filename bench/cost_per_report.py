"""CPU cost per report through the whole pipeline of ``hotline simulate`` (issue 21, goal 3).

    python bench/cost_per_report.py                                   # SQLite, 100 and 300 reports
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/cost_per_report.py --small 100 --large 300

Runs the simulation (``hotline.demo.simulate.simulate``, what ``hotline simulate`` runs) at two sizes over the
same number of days, each in a fresh child process on a fresh scratch database (``<name>_cost`` on PostgreSQL,
a temporary file on SQLite), and measures the child's CPU time (``time.process_time``: every thread of the
process, so the worker steps, the scripted people and the simulated world on loopback; partner installation B
runs in processes of its own and is reported apart). Set-up (migrate, the world's servers) is outside the
measurement. The cost per report is the **slope** between the two sizes, so what every run pays whatever its
size (the hourly ticks, the seed data) drops out:

    (CPU(large) - CPU(small)) / (large - small)

Notices: the CPU spent inside ``notice_step`` divided by the notices it sent (also as a slope). Each step's
CPU and query count is printed per report, to say where the rest goes. Settings: ``hotline.settings_test``
with DEBUG off (DEBUG would keep every query in memory and cost CPU the product does not pay).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# What the simulation calls, besides the worker steps, that is worth its own line.
PEOPLE = ("intake", "analyst_works", "police_liaison_works", "carry_out")


def scratch_database(url: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_cost"
    admin = urlunparse(parts._replace(path="/postgres"))  # the database named in the URL need not exist
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


class Meter:
    """CPU and queries by the part of the run that spent them (the step or person running, else 'other')."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.queries: dict[str, int] = defaultdict(int)
        self.current = "other"
        self.shapes: Counter[tuple[str, str]] = Counter()

    def wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            outer, self.current = self.current, name
            began = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.process_time() - began
                self.cpu[name] += spent
                if outer != "other":
                    self.cpu[outer] -= spent  # a step called from within another counts once, as itself
                self.current = outer
        return timed

    def count_query(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.queries[self.current] += 1
        self.shapes[(self.current, sql[:150])] += 1
        return execute(sql, params, many, context)


def child(reports: int, days: int, seed: int) -> None:
    """One measured run; prints its figures as one JSON line."""
    import logging

    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from hotline.demo import simulate as sim
    from hotline.takedown.models import Notice

    meter = Meter()
    # The steps by the names the scenario calls them (wherever they live), and the scripted people.
    for name in [n for n in vars(sim) if n.endswith("_step") and callable(getattr(sim, n))]:
        setattr(sim, name, meter.wrap(name, getattr(sim, name)))
    for name in PEOPLE:
        setattr(sim.Simulation, name, meter.wrap(name, getattr(sim.Simulation, name)))
    run = sim.Simulation.run

    def measured_run(self: Any) -> Any:
        self.world.partner.tick = meter.wrap("partner_tick", self.world.partner.tick)
        began, wall = time.process_time(), time.perf_counter()
        with connection.execute_wrapper(meter.count_query):
            result = run(self)
        meter.cpu["total"] = time.process_time() - began
        meter.cpu["wall"] = time.perf_counter() - wall
        return result

    sim.Simulation.run = measured_run  # type: ignore[method-assign]
    result = sim.simulate(reports, days=days, seed=seed)
    if os.environ.get("COST_BENCH_SQL"):  # the most repeated query shapes by step, to find per-row queries
        with open(os.environ["COST_BENCH_SQL"], "w") as out:
            for (step, sql), n in meter.shapes.most_common(60):
                out.write(f"{n:>7} {step:<20} {sql}\n")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    steps = sum(v for k, v in meter.cpu.items() if k not in ("total", "wall"))
    meter.cpu["other"] += meter.cpu["total"] - steps
    print(json.dumps({
        "reports": reports, "cpu": dict(meter.cpu), "queries": dict(meter.queries),
        "notices": Notice.objects.filter(sent_at__isnull=False).count(),
        "partner_cpu": children.ru_utime + children.ru_stime,
        "items": result.counts["other"]["items"], "removed": result.counts["takedown"].get("removed", 0),
    }))


def measure(reports: int, days: int, seed: int, database_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cost-bench-") as folder:
        url = scratch_database(database_url) if database_url else f"sqlite:///{folder}/cost.sqlite3"
        env = os.environ | {"DATABASE_URL": url, "HOTLINE_VAR_DIR": folder, "HOTLINE_DEBUG": "false",
                            "PYTHONPATH": str(ROOT)}
        run = subprocess.run([sys.executable, __file__, "--child", str(reports), "--days", str(days),
                              "--seed", str(seed)], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"the run of {reports} reports failed:\n{run.stderr[-4000:]}")
        return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def report(small: dict[str, Any], large: dict[str, Any]) -> None:
    n = large["reports"] - small["reports"]
    print(f"{'':<22}{small['reports']:>10} reports{large['reports']:>10} reports   slope ms/report")

    def line(label: str, a: float, b: float, per: float = n, unit: str = "") -> None:
        print(f"{label:<22}{a:>15.2f}{b:>17.2f}   {(b - a) * 1000 / per:>10.1f}{unit}")

    line("CPU total (s)", small["cpu"]["total"], large["cpu"]["total"])
    line("wall (s)", small["cpu"]["wall"], large["cpu"]["wall"])
    line("partner B CPU (s)", small["partner_cpu"], large["partner_cpu"])
    names = sorted((set(small["cpu"]) | set(large["cpu"])) - {"total", "wall"},
                   key=lambda k: -large["cpu"].get(k, 0))
    for name in names:
        line(f"  {name}", small["cpu"].get(name, 0), large["cpu"].get(name, 0))
    print("queries per report (slope):  " + ", ".join(
        f"{k}={(large['queries'].get(k, 0) - small['queries'].get(k, 0)) / n:.1f}"
        for k in sorted(large["queries"], key=lambda k: -large["queries"][k])))
    a, b = (r["cpu"].get("notice_step", 0) for r in (small, large))
    print(f"notices sent: {small['notices']} / {large['notices']}; notice_step CPU per notice: "
          f"{a * 1000 / max(small['notices'], 1):.1f} / {b * 1000 / max(large['notices'], 1):.1f} ms, "
          f"slope {(b - a) * 1000 / max(large['notices'] - small['notices'], 1):.1f} ms")
    print(f"items: {small['items']} / {large['items']}; removed takedowns: {small['removed']} / {large['removed']}")
    slope = (large["cpu"]["total"] - small["cpu"]["total"]) * 1000 / n
    print(f"RESULT cpu_ms_per_report={slope:.1f} notice_ms_each="
          f"{(b - a) * 1000 / max(large['notices'] - small['notices'], 1):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.days, args.seed)
        return
    database_url = os.environ.get("DATABASE_URL", "")
    print(f"{'PostgreSQL' if database_url else 'SQLite'}, {args.days} days, seed {args.seed}, "
          f"load average {os.getloadavg()[0]:.1f}")
    small = measure(args.small, args.days, args.seed, database_url)
    large = measure(args.large, args.days, args.seed, database_url)
    report(small, large)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
