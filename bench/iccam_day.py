"""One simulated day through the ICCAM simulator: reports in, assessments and actions out, then a push worker
SIGKILLed mid-push and replaced, and a count of every write ICCAM accepted (duplicates must be zero).

    .venv/bin/python bench/iccam_day.py [--reports 200] [--seed 5] --database postgres://postgres@127.0.0.1:5432/x

Day (minute by minute, on a simulated clock 26 h in the past): other hotlines file ``--reports`` reports of 1-3
content items at random minutes; every minute the connector's pull step and push step run. Our side's facts are
put on the items the way the other domains' workers leave them (the Facts helper of the ICCAM tests): an analyst
assesses each item 20 min after it arrives (55 % illegal, 30 % not illegal, 15 % unavailable), illegal items are
referred to the police after 1 h, noticed to the host after 2 h, removed after 5 h (half of them), and a few are
traced to another country (moved). Some ICCAM items are already assessed baseline by their reporting hotline
(our assessment is refused) and some are re-assigned to another country after we pulled them (refused).

In the last simulated hour the push step is not run, so writes pile up; then a push worker process (real
clock) sends them, is SIGKILLed while ICCAM holds the answer to a write it has taken, and a second worker
finishes. Prints the counts, the duplicates, and the time from an item appearing in ICCAM to the report of
ours that queues it for assessment (capture first, then the analyst queue).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def setup(database: str, sim_env: dict[str, str]) -> str:
    scratch = tempfile.mkdtemp(prefix="hotline-bench-iccam-")
    if database.startswith("postgres"):
        sys.path.insert(0, str(ROOT / "bench"))
        from intake_throughput import scratch_database

        url = scratch_database(database)
    else:
        url = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ |= sim_env | {
        "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "hotline.settings_test", "HOTLINE_LOG_LEVEL": "ERROR",
        "HOTLINE_STORE_ROOT": f"{scratch}/store", "HOTLINE_FETCH_ALLOW_LOOPBACK": "true",
        "HOTLINE_HOME_COUNTRY": "BE", "HOTLINE_ICCAM_LOGIN_WAIT_SECONDS": "0"}
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def day(sim: Any, clock: Clock, *, reports: int, seed: int, hours: int = 24) -> dict[str, Any]:
    from hotline.iccam import conf
    from hotline.iccam.codes import Table
    from hotline.iccam.models import Content
    from hotline.iccam.services import push
    from hotline.iccam.steps import pull_step, push_step
    from hotline.iccam.tests.conftest import Facts

    rng = random.Random(seed)
    start = clock.now
    arrivals = sorted((rng.randrange(0, hours * 60), n) for n in range(reports))
    facts, plans, next_site = Facts(), {}, 0
    pulls: list[float] = []
    for minute in range(hours * 60 + 1):
        clock.now = start + dt.timedelta(minutes=minute)
        while arrivals and arrivals[0][0] <= minute:
            arrivals.pop(0)
            urls = [f"http://site-{next_site + k}.sim.test/img-{k}.png" for k in range(rng.randint(1, 3))]
            next_site += len(urls)
            sim.add_report(urls, classification=1 if rng.random() < 0.08 else None, assigned_at=clock.now)
        began = time.perf_counter()
        if pull_step(now=clock.now) and sim.contents:
            pulls.append(time.perf_counter() - began)
        for content in Content.objects.filter(imported_at__lte=clock.now - dt.timedelta(minutes=20),
                                              item__isnull=False, pk__gt=plans.get("last", 0)).order_by("pk"):
            plans["last"] = content.pk
            plan = _assess(facts, sim, content, rng, clock.now)
            if plan["illegal"]:
                plans[content.pk] = plan | {"content": content}
        for pk, plan in list(plans.items()):
            if pk != "last" and _carry_out(facts, plan["content"], plan, clock.now):
                del plans[pk]
        if minute % 60 == 0:
            print(f"{clock.now:%H:%M} simulated: {len(sim.contents)} ICCAM items, {len(sim.writes)} writes",
                  flush=True)
        if minute < (hours - 1) * 60:
            while push_step(now=clock.now, limit=50):
                pass
        else:
            config = conf.config()
            assert config is not None
            push.observe(Table(), analyst=config.username, country=config.country, now=clock.now)
    return {"reports": reports, "contents": len(sim.contents), "pull_seconds": pulls}


def _assess(facts: Any, sim: Any, content: Any, rng: random.Random, now: dt.datetime) -> dict[str, Any]:
    roll = rng.random()
    verdict = "baseline" if roll < 0.35 else "national" if roll < 0.55 else "not_illegal" if roll < 0.85 \
        else "unreachable"
    reason = {"not_illegal": "adult_pornography", "unreachable": "content_not_found"}.get(verdict, "")
    facts.assess(content.item, verdict, reason=reason)
    if rng.random() < 0.04:
        with sim._lock:
            sim.contents[content.content_id]["assignedCountryCode"] = "NL"  # re-assigned after our pull
    illegal = verdict in ("baseline", "national")
    return {"at": now, "illegal": illegal, "removed": illegal and rng.random() < 0.5,
            "moved": illegal and rng.random() < 0.05, "done": set()}


def _carry_out(facts: Any, content: Any, plan: dict[str, Any], now: dt.datetime) -> bool:
    """Put the facts whose time has come on the item; True when nothing is left to do."""
    age = now - plan["at"]
    steps = [("police", dt.timedelta(hours=1), lambda: facts.referred(content.item)),
             ("moved", dt.timedelta(hours=1, minutes=30), lambda: plan["moved"] and facts.trace(content.item, "NL")),
             ("host", dt.timedelta(hours=2), lambda: facts.noticed(content.item)),
             ("removed", dt.timedelta(hours=5), lambda: plan["removed"] and facts.noticed(content.item, removed=True))]
    for name, after, do in steps:
        if age >= after and name not in plan["done"]:
            plan["done"].add(name)
            do()
    return len(plan["done"]) == len(steps)


def kill_phase(sim: Any, url: str) -> dict[str, Any]:
    from hotline.iccam.models import Push, PushState

    open_rows = Push.objects.filter(state__in=[PushState.QUEUED, PushState.SENDING]).count()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DJANGO_", "DATABASE_"))}
    env |= sim.environment() | {"DJANGO_SETTINGS_MODULE": "hotline.settings_test", "DATABASE_URL": url,
                                "HOTLINE_FETCH_ALLOW_LOOPBACK": "true", "HOTLINE_HOME_COUNTRY": "BE",
                                "HOTLINE_ICCAM_LOGIN_WAIT_SECONDS": "0", "HOTLINE_ICCAM_SEND_LEASE_SECONDS": "3"}

    def start(idle: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "hotline.iccam.tests.worker_runner"], cwd=ROOT,
                                env=env | {"HOTLINE_TEST_IDLE_SECONDS": str(idle)}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    before = len(sim.writes)
    sim.answer_delay = 30
    first = start(4)
    while len(sim.writes) == before:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = Push.objects.filter(state=PushState.SENDING).count()
    sim.answer_delay = 0
    began = time.perf_counter()
    second = start(8)
    second.wait(timeout=600)
    return {"open_before": open_rows, "cut_mid_push": cut, "finish_seconds": round(time.perf_counter() - began, 1),
            "open_after": Push.objects.filter(state__in=[PushState.QUEUED, PushState.SENDING]).count()}


def report(sim: Any, facts: dict[str, Any], killed: dict[str, Any] | None, wall: float) -> None:
    from django.db.models import Count

    from hotline.iccam.models import Content, Push
    from hotline.reports.models import Item, Report

    counts = sim.write_counts()
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    lags = []
    for content in Content.objects.filter(origin="pulled"):
        appeared = sim.contents[content.content_id]["countryAssignmentDate"]
        lags.append((content.imported_at - appeared).total_seconds())
    pushes = {f"{r['kind']}:{r['state']}": r["n"] for r in Push.objects.values("kind", "state").annotate(
        n=Count("pk")).order_by("kind", "state")}
    print(f"ICCAM reports filed by other hotlines: {facts['reports']} ({facts['contents']} content items)")
    print(f"Reports of ours with source ICCAM: {Report.objects.filter(source='iccam').count()}, items: "
          f"{Item.objects.count()}, ICCAM items kept: {Content.objects.count()}")
    print("Pushes: " + ", ".join(f"{k}={v}" for k, v in pushes.items()))
    print("Writes ICCAM accepted: " + ", ".join(f"{k}={v}" for k, v in sorted(
        Counter(w[0] for w in sim.writes).items())))
    print(f"Duplicate writes: {duplicates}")
    if killed:
        print("SIGKILL phase: " + ", ".join(f"{k}={v}" for k, v in killed.items()))
    lags.sort()
    print(f"ICCAM item appeared -> queued as our report: n={len(lags)} median={statistics.median(lags):.0f} s "
          f"p90={lags[int(0.9 * (len(lags) - 1))]:.0f} s max={lags[-1]:.0f} s (pull every 60 s)")
    pulls = sorted(facts["pull_seconds"])
    print(f"Pull step wall time per run: median={statistics.median(pulls) * 1000:.0f} ms "
          f"max={pulls[-1] * 1000:.0f} ms over {len(pulls)} runs")
    print(f"Wall time: {wall:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--hours", type=int, default=24, help="length of the simulated day (the last hour: no push)")
    parser.add_argument("--database", default="", help="DATABASE_URL (PostgreSQL needed for the SIGKILL phase)")
    args = parser.parse_args()
    from hotline.sim.iccam import SimIccam

    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=args.hours + 2)
    clock = Clock(start)
    with SimIccam(country="BE", clock=clock) as sim:
        url = setup(args.database, sim.environment())
        began = time.perf_counter()
        facts = day(sim, clock, reports=args.reports, seed=args.seed, hours=args.hours)
        clock.now = dt.datetime.now(dt.UTC)
        killed = kill_phase(sim, url) if args.database.startswith("postgres") else None
        report(sim, facts, killed, time.perf_counter() - began)


if __name__ == "__main__":
    main()
