"""CPU of a worker step's idle call (nothing due) and of its busy calls, in ``hotline simulate`` (issue 21, goal 3).

    python bench/idle_poll.py --reports 50 --days 7 --baseline /tmp/base      # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME python bench/idle_poll.py --baseline /tmp/base

Runs the simulation behind ``hotline simulate`` once per tree (this one, and ``--baseline``, a ``git archive`` of
main), each in a child process on a fresh scratch database (as ``bench/cost_per_report.py`` does), and wraps every
worker step the simulation calls: a call that returns False found nothing due (idle). For each step it prints
the idle calls and the main thread's CPU per idle call (``time.thread_time``: the steps run in the main thread;
the pools a busy capture or trace starts are not counted), and the CPU of the busy calls. The simulation calls
every step at least once per pipeline pass and each busy step once more until it says it is idle, so a run makes
some hundreds of idle calls per step; a deployed worker makes one per step every few seconds, all day.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("IDLE_BENCH_CODE", str(ROOT)))


def child(reports: int, days: int, seed: int) -> None:
    import logging

    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from hotline.demo import simulate as sim

    calls, busy = Counter[str](), Counter[str]()
    idle_cpu, busy_cpu = Counter[str](), Counter[str]()

    def wrap(name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.thread_time()
            found = fn(*args, **kwargs)
            spent = time.thread_time() - began
            calls[name] += 1
            if found:
                busy[name] += 1
                busy_cpu[name] += spent
            else:
                idle_cpu[name] += spent
            return found
        return timed

    for name in [n for n in vars(sim) if n.endswith("_step") and callable(getattr(sim, n))]:
        setattr(sim, name, wrap(name, getattr(sim, name)))
    pipeline = sim.Simulation.pipeline

    def counted(self: Any, now: Any) -> bool:
        calls["pipeline passes"] += 1
        return bool(pipeline(self, now))

    sim.Simulation.pipeline = counted  # type: ignore[method-assign]
    sim.simulate(reports, days=days, seed=seed)
    print(json.dumps({name: {"calls": calls[name], "busy": busy[name], "idle_cpu": idle_cpu[name],
                             "busy_cpu": busy_cpu[name]} for name in calls}))


def measure(reports: int, days: int, seed: int, database_url: str, code: str) -> dict[str, dict[str, Any]]:
    sys.path.insert(0, str(ROOT / "bench"))
    from cost_per_report import run_child

    return run_child(__file__, "IDLE_BENCH_CODE", reports, days, seed, database_url, code)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", help="another tree of the code (a `git archive` of main), run the same way")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.days, args.seed)
        return
    database_url = os.environ.get("DATABASE_URL", "")
    print(f"{'PostgreSQL' if database_url else 'SQLite'}, {args.reports} reports, {args.days} days, seed {args.seed}, "
          f"load average {os.getloadavg()[0]:.1f}")
    trees = ([("baseline", str(Path(args.baseline).resolve()))] if args.baseline else []) + [("this tree", str(ROOT))]
    found = {label: measure(args.reports, args.days, args.seed, database_url, code) for label, code in trees}
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    header = "".join(f"  {label + ': idle calls, ms each, busy s':>36}" for label, _ in trees)
    print(f"{'step':<22}{header}")
    totals = {label: 0.0 for label, _ in trees}
    for name in sorted(found[trees[-1][0]], key=lambda n: (n != "pipeline passes", n)):
        cells = []
        for label, _ in trees:
            row = found[label].get(name, {"calls": 0, "busy": 0, "idle_cpu": 0.0, "busy_cpu": 0.0})
            idle = row["calls"] - row["busy"]
            each = row["idle_cpu"] * 1000 / idle if idle else 0.0
            totals[label] += each if name != "pipeline passes" else 0.0
            cells.append(f"{idle:>14} {each:>10.2f} {row['busy_cpu']:>9.2f}" if name != "pipeline passes"
                         else f"{row['calls']:>14} {'':>10} {'':>9}")
        print(f"{name:<22}" + "".join(f"  {c:>36}" for c in cells))
    print("one idle call of every step, ms: " + ", ".join(f"{label} {totals[label]:.1f}" for label, _ in trees))


if __name__ == "__main__":
    main()
