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

Whole process and product only: the simulated world (web sites, SMTP sink, simulated ICCAM, RDAP and DNS)
runs in server threads of the measured process and is not the product. Their CPU is read from per-thread CPU
clocks (``Threads``: every server thread and the threads it starts, one per connection) and printed apart;
"product" is the process's CPU less theirs, and less what the main thread spends as the world (the
providers' scripted events, waiting for partner B's tick). Both are printed, whole first (the figure printed
before this split), per step too.

    python bench/cost_per_report.py --small 50 --large 150 --days 7 --baseline /tmp/base --repeat 2

runs a second tree (``git archive`` of main, say) the same way, interleaved with this one, and prints the
ratios. ``COST_BENCH_PROFILE=/tmp/p.prof`` writes a cProfile (per-thread CPU time) of the product's threads.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
# The code measured: this tree, or another one (``--baseline DIR`` runs a copy of main the same way, interleaved).
CODE = os.environ.get("COST_BENCH_CODE", str(ROOT))
sys.path.insert(0, CODE)
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


class Threads:
    """CPU time of the process's threads by whose they are. The simulated world (the web sites, the SMTP sink,
    the simulated ICCAM, RDAP and DNS) runs in server threads of this process: ``world`` is the CPU of those
    threads and of every thread they start (one per request), read from per-thread CPU clocks. Our own site
    answering partner B (the product's WSGI app on a loopback thread) is ``own_site``, and counts as the
    product. Every other thread (the main one, which runs the steps and the scripted people, and the pools
    the steps start) is the product's."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: dict[threading.Thread, str] = {}
        self.ended: dict[str, float] = defaultdict(float)
        self.profiles: list[Any] | None = None  # a list: each product thread that ends leaves its profile here
        threads = self
        start, bootstrap = threading.Thread.start, threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

        def marked_start(thread: threading.Thread) -> None:
            thread._cost_kind = threads.kind_of(thread)  # type: ignore[attr-defined]
            start(thread)

        def counted_bootstrap(thread: threading.Thread) -> None:
            kind = getattr(thread, "_cost_kind", "product")
            with threads.lock:
                threads.live[thread] = kind
            profile = None
            if threads.profiles is not None and kind == "product":  # the steps' pools (capture, liveness)
                import cProfile

                profile = cProfile.Profile(time.thread_time)
                profile.enable()
            try:
                bootstrap(thread)
            finally:
                if profile is not None and threads.profiles is not None:
                    profile.disable()
                    threads.profiles.append(profile)
                with threads.lock:  # the thread's last CPU reading, taken on itself before it ends
                    threads.ended[kind] += time.thread_time()
                    del threads.live[thread]

        threading.Thread.start = marked_start  # type: ignore[method-assign,assignment]
        threading.Thread._bootstrap_inner = counted_bootstrap  # type: ignore[attr-defined]

    @staticmethod
    def kind_of(thread: threading.Thread) -> str:
        owner = getattr(getattr(thread, "_target", None), "__self__", None)
        if isinstance(owner, socketserver.BaseServer):
            return "own_site" if type(owner).__module__.startswith("django.") else "world"
        if type(owner).__module__.startswith("aiosmtpd."):
            return "world"
        return str(getattr(threading.current_thread(), "_cost_kind", "product"))  # a thread's threads are its own

    def world(self) -> float:
        """CPU seconds spent so far by the simulated world's threads (ended and running)."""
        with self.lock:
            spent = self.ended["world"]
            for thread, kind in self.live.items():
                if kind == "world" and thread.ident is not None:
                    spent += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        return spent

    def by_kind(self) -> dict[str, float]:
        with self.lock:
            spent = dict(self.ended)
            for thread, kind in self.live.items():
                if thread.ident is not None:
                    spent[kind] = spent.get(kind, 0.0) + time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        return spent


class Meter:
    """CPU and queries by the part of the run that spent them (the step or person running, else 'other'):
    ``cpu`` is the whole process's CPU while it ran (what the bench printed before), ``product`` the same less
    what the simulated world's threads spent meanwhile."""

    def __init__(self, threads: Threads) -> None:
        self.threads = threads
        self.cpu: dict[str, float] = defaultdict(float)
        self.product: dict[str, float] = defaultdict(float)
        self.queries: dict[str, int] = defaultdict(int)
        self.current = "other"
        self.shapes: Counter[tuple[str, str]] = Counter()

    def wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            outer, self.current = self.current, name
            began, world = time.process_time(), self.threads.world()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.process_time() - began
                own = spent - (self.threads.world() - world)
                self.cpu[name] += spent
                self.product[name] += own
                if outer != "other":  # a step called from within another counts once, as itself
                    self.cpu[outer] -= spent
                    self.product[outer] -= own
                self.current = outer
        return timed

    def count_query(self, sql: str) -> None:
        self.queries[self.current] += 1
        self.shapes[(self.current, sql[:150])] += 1

    def counting(self) -> Any:
        """Count the main thread's queries (the steps', the people's) as the product runs them in production.
        Not with ``connection.execute_wrapper``: a wrapper (like ``DEBUG``) sends ``hotline.lib.plainsql``, the
        compiled queries' runner, through Django's cursor, a path production never takes. So Django's
        ``CursorWrapper.execute``/``executemany`` and ``plainsql``'s runner are wrapped instead, each query
        counted once (``plainsql`` falling back to Django's cursor counts as itself)."""
        from contextlib import contextmanager

        from django.db.backends import utils

        from hotline.lib import plainsql

        main, meter = threading.main_thread(), self
        inside = [False]  # within plainsql's runner: its fallback to Django's cursor is the same query
        plain_name = "_run" if hasattr(plainsql, "_run") else "fetch_all"  # older trees: fetch_all only
        originals = (utils.CursorWrapper.execute, utils.CursorWrapper.executemany, getattr(plainsql, plain_name))

        def execute(cursor: Any, sql: str, params: Any = None) -> Any:
            if not inside[0] and threading.current_thread() is main:
                meter.count_query(sql)
            return originals[0](cursor, sql, params)

        def executemany(cursor: Any, sql: str, param_list: Any) -> Any:
            if not inside[0] and threading.current_thread() is main:
                meter.count_query(sql)
            return originals[1](cursor, sql, param_list)

        def plain(sql: str, *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not main:
                return originals[2](sql, *args, **kwargs)
            meter.count_query(sql)
            inside[0] = True
            try:
                return originals[2](sql, *args, **kwargs)
            finally:
                inside[0] = False

        @contextmanager
        def installed() -> Any:
            utils.CursorWrapper.execute, utils.CursorWrapper.executemany = execute, executemany  # type: ignore[method-assign,assignment]
            setattr(plainsql, plain_name, plain)
            try:
                yield
            finally:
                utils.CursorWrapper.execute, utils.CursorWrapper.executemany = originals[:2]  # type: ignore[method-assign]
                setattr(plainsql, plain_name, originals[2])

        return installed()


# Called in the main thread but the simulated world's doing, not the product's: the providers' scripted events
# (the web changing) and waiting for partner installation B's tick (B itself runs in processes of its own).
WORLD_IN_MAIN = ("partner_tick", "world_providers")


def child(reports: int, days: int, seed: int) -> None:
    """One measured run; prints its figures as one JSON line."""
    import logging

    threads = Threads()  # before any server thread starts
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from hotline.demo import simulate as sim
    from hotline.takedown.models import Notice

    meter = Meter(threads)
    # The steps by the names the scenario calls them (wherever they live), and the scripted people.
    for name in [n for n in vars(sim) if n.endswith("_step") and callable(getattr(sim, n))]:
        setattr(sim, name, meter.wrap(name, getattr(sim, name)))
    for name in PEOPLE:
        setattr(sim.Simulation, name, meter.wrap(name, getattr(sim.Simulation, name)))
    run = sim.Simulation.run
    profile_to = os.environ.get("COST_BENCH_PROFILE")

    def measured_run(self: Any) -> Any:
        self.world.partner.tick = meter.wrap("partner_tick", self.world.partner.tick)
        self.world.providers.advance = meter.wrap("world_providers", self.world.providers.advance)
        profiler = None
        if profile_to:  # the main thread (the steps, the people) and the product's other threads (the pools)
            import cProfile

            profiler = cProfile.Profile(time.thread_time)  # CPU time of the thread profiled, not wall time
            threads.profiles = []
        began, wall, kinds = time.process_time(), time.perf_counter(), threads.by_kind()
        if profiler:
            profiler.enable()
        try:
            with meter.counting():
                result = run(self)
        finally:
            if profiler and profile_to:
                import pstats

                profiler.disable()
                stats = pstats.Stats(profiler)
                for profile in threads.profiles or []:
                    stats.add(profile)
                stats.dump_stats(profile_to)
        meter.cpu["total"] = time.process_time() - began
        meter.cpu["wall"] = time.perf_counter() - wall
        after = threads.by_kind()
        for kind in ("world", "own_site"):
            meter.cpu[f"threads_{kind}"] = after.get(kind, 0.0) - kinds.get(kind, 0.0)
        return result

    sim.Simulation.run = measured_run  # type: ignore[method-assign]
    result = sim.simulate(reports, days=days, seed=seed)
    if os.environ.get("COST_BENCH_SQL"):  # the most repeated query shapes by step, to find per-row queries
        with open(os.environ["COST_BENCH_SQL"], "w") as out:
            for (step, sql), n in meter.shapes.most_common():
                out.write(f"{n:>7} {step:<20} {sql}\n")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    special = ("total", "wall", "threads_world", "threads_own_site")
    steps = sum(v for k, v in meter.cpu.items() if k not in special)
    meter.cpu["other"] += meter.cpu["total"] - steps
    world = meter.cpu["threads_world"] + sum(meter.cpu.get(k, 0.0) for k in WORLD_IN_MAIN)
    meter.product["other"] += (meter.cpu["total"] - world) - sum(
        v for k, v in meter.product.items() if k not in WORLD_IN_MAIN)
    meter.product["total"] = meter.cpu["total"] - world
    for k in WORLD_IN_MAIN:
        meter.product.pop(k, None)
    print(json.dumps({
        "reports": reports, "cpu": dict(meter.cpu), "product": dict(meter.product), "queries": dict(meter.queries),
        "notices": Notice.objects.filter(sent_at__isnull=False).count(),
        "partner_cpu": children.ru_utime + children.ru_stime,
        "items": result.counts["other"]["items"], "removed": result.counts["takedown"].get("removed", 0),
    }))


def measure(reports: int, days: int, seed: int, database_url: str, code: str = str(ROOT)) -> dict[str, Any]:
    return run_child(__file__, "COST_BENCH_CODE", reports, days, seed, database_url, code)


def run_child(script: str, code_variable: str, reports: int, days: int, seed: int, database_url: str,
              code: str) -> dict[str, Any]:
    """Run ``script --child REPORTS`` on a scratch database with the tree ``code`` first on the path; its last
    line of output is JSON. Shared with bench/idle_poll.py."""
    with tempfile.TemporaryDirectory(prefix="cost-bench-") as folder:
        url = scratch_database(database_url) if database_url else f"sqlite:///{folder}/cost.sqlite3"
        env = os.environ | {"DATABASE_URL": url, "HOTLINE_VAR_DIR": folder, "HOTLINE_DEBUG": "false",
                            "PYTHONPATH": code, code_variable: code}
        run = subprocess.run([sys.executable, script, "--child", str(reports), "--days", str(days),
                              "--seed", str(seed)], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"the run of {reports} reports ({code}) failed:\n{run.stderr[-4000:]}")
        return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def mean_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of repeated runs of one size (the counts are the same in each: the simulation is seeded)."""
    mean = dict(runs[0])
    for part in ("cpu", "product"):
        names = set().union(*(r[part] for r in runs))
        mean[part] = {k: sum(r[part].get(k, 0.0) for r in runs) / len(runs) for k in names}
    mean["partner_cpu"] = sum(r["partner_cpu"] for r in runs) / len(runs)
    return mean


def slope(small: dict[str, Any], large: dict[str, Any], part: str, name: str) -> float:
    spent = float(large[part].get(name, 0.0) - small[part].get(name, 0.0))
    return spent * 1000 / int(large["reports"] - small["reports"])


def report(small: dict[str, Any], large: dict[str, Any]) -> dict[str, float]:
    n = large["reports"] - small["reports"]
    print(f"{'':<24}{small['reports']:>8} reports{large['reports']:>8} reports   slope ms/report: whole  product")

    def line(label: str, name: str, part: str = "cpu") -> None:
        a, b = small[part].get(name, 0.0), large[part].get(name, 0.0)
        own = f"{slope(small, large, 'product', name):>9.1f}" if name in large.get("product", {}) else ""
        print(f"{label:<24}{a:>15.2f}{b:>16.2f}   {slope(small, large, part, name):>20.1f}{own}")

    line("CPU total (s)", "total")
    line("  simulated world's threads", "threads_world")
    line("  our site for partner B", "threads_own_site")
    line("wall (s)", "wall")
    print(f"{'partner B CPU (s)':<24}{small['partner_cpu']:>15.2f}{large['partner_cpu']:>16.2f}   "
          f"{(large['partner_cpu'] - small['partner_cpu']) * 1000 / n:>20.1f}")
    names = sorted((set(small["cpu"]) | set(large["cpu"])) - {"total", "wall", "threads_world", "threads_own_site"},
                   key=lambda k: -large["cpu"].get(k, 0))
    for name in names:
        line(f"  {name}", name)
    print("queries per report (slope):  " + ", ".join(
        f"{k}={(large['queries'].get(k, 0) - small['queries'].get(k, 0)) / n:.1f}"
        for k in sorted(large["queries"], key=lambda k: -large["queries"][k])))
    sent = max(large["notices"] - small["notices"], 1)
    figures = {"cpu_ms_per_report": slope(small, large, "cpu", "total"),
               "product_ms_per_report": slope(small, large, "product", "total"),
               "notice_ms_each": slope(small, large, "cpu", "notice_step") * n / sent,
               "notice_product_ms_each": slope(small, large, "product", "notice_step") * n / sent}
    print(f"notices sent: {small['notices']} / {large['notices']}; notice_step CPU per notice (slope): "
          f"{figures['notice_ms_each']:.1f} ms whole, {figures['notice_product_ms_each']:.1f} ms product")
    print(f"items: {small['items']} / {large['items']}; removed takedowns: {small['removed']} / {large['removed']}")
    print("RESULT " + " ".join(f"{k}={v:.1f}" for k, v in figures.items()))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", help="another tree of the code (e.g. a `git archive` of main): measured "
                        "the same way, its runs interleaved with this tree's, and the ratio printed")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each size (and tree), interleaved; "
                        "the figures are their mean, each run's total CPU is printed")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.days, args.seed)
        return
    database_url = os.environ.get("DATABASE_URL", "")
    print(f"{'PostgreSQL' if database_url else 'SQLite'}, {args.days} days, seed {args.seed}, "
          f"load average {os.getloadavg()[0]:.1f}")
    trees = [("this tree", str(ROOT))] + ([("baseline", str(Path(args.baseline).resolve()))] if args.baseline else [])
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in trees}
    for size in (args.small, args.large):  # interleaved: baseline small, this small, baseline large, this large
        done: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in trees}
        for _ in range(args.repeat):
            for label, code in reversed(trees):
                done[label].append(measure(size, args.days, args.seed, database_url, code))
                print(f"  {label}: {size} reports, CPU {done[label][-1]['cpu']['total']:.2f} s (product "
                      f"{done[label][-1]['product']['total']:.2f} s), load average {os.getloadavg()[0]:.1f}",
                      flush=True)
        for label, _ in trees:
            runs[label].append(mean_run(done[label]))
    figures = {}
    for label, code in reversed(trees):
        print(f"\n== {label} ({code})")
        figures[label] = report(*runs[label])
    if args.baseline:
        print("\nthis tree / baseline: " + ", ".join(
            f"{k} {figures['this tree'][k]:.1f} / {figures['baseline'][k]:.1f} = "
            f"{figures['this tree'][k] / figures['baseline'][k]:.2f}" for k in figures["this tree"]))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
