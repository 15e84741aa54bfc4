"""CPU per notice on the real notice path (issue 21, goal 3): the product's thread apart from the simulated world's.

    python bench/notice_cost.py --baseline /tmp/notice_base [--notices 40] [--items 2] [--rounds 3] \
        [--database postgres://postgres@127.0.0.1:5432/NAME]

Each run is a fresh child process on a fresh scratch database (SQLite file, or ``<NAME>_notice_cost`` on
PostgreSQL) with a loopback DNS stub, RDAP server and SMTP sink on threads of that process. ``--notices``
providers (each a network in the directory and in RDAP, one abuse contact) get ``--items`` new items each
(one host per item, in the provider's network): their routing decisions are taken (``take_due_decisions``)
and their first notices sent (``send_due``: claim, re-trace every item, render, send over SMTP, record).
A first wave, not measured, pays the one-time costs (RDAP answers cached, templates compiled, audit heads);
the second wave is measured. The product's CPU is the main thread's (``time.thread_time``); the simulated
world's is the rest of the process's CPU (``time.process_time`` minus the main thread's).

``--baseline`` names a checkout of the code to compare with (e.g. ``git archive fc50a28``): both run in
alternating order, ``--rounds`` times each, the best run of each kept, and the ratio printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def scratch_database(url: str, suffix: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_{suffix}"
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


# ------------------------------------------------------------------ the child: one measured run


def network(n: int) -> str:
    return f"185.{100 + n // 250}.{n % 250}.0/24"


def address(n: int, k: int) -> str:
    return f"185.{100 + n // 250}.{n % 250}.{10 + k}"


def child(notices: int, items: int, profile: str) -> None:
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.test import override_settings

    from hotline.sim.dns import SimDns
    from hotline.sim.rdap import SimNetwork, SimRdap
    from hotline.sim.smtp import SmtpSink

    networks = [SimNetwork(network(n), country="BE", name=f"NET-{n}", registrant=f"Bench Host {n}",
                           abuse=f"abuse@host{n}.example") for n in range(notices)]
    with SmtpSink() as smtp, SimDns({}) as dns, SimRdap(networks) as rdap, override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST=smtp.host, EMAIL_PORT=smtp.port,
            EMAIL_USE_TLS=False, EMAIL_USE_SSL=False, EMAIL_TIMEOUT=10, HOTLINE_DNS_RESOLVERS=dns.spec,
            HOTLINE_DNS_TIMEOUT=5.0, HOTLINE_RDAP_BASE_URL=rdap.base_url, HOTLINE_FETCH_ALLOW_LOOPBACK=True,
            HOTLINE_TAKEDOWN_BATCH_MINUTES=0):
        contacts = seed_directory(notices)
        wave(dns, contacts, items, 0)  # warm-up: not measured
        result = wave(dns, contacts, items, 1, profile=profile)
        result["received"] = len(smtp.message_ids())
    print(json.dumps(result))


def seed_directory(notices: int) -> list[Any]:
    from hotline.tracing.models import AbuseContact, Provider, ProviderNetwork
    from hotline.tracing.providers import network_row

    providers = Provider.objects.bulk_create([Provider(name=f"Bench Host {n}", country="BE")
                                              for n in range(notices)])
    ProviderNetwork.objects.bulk_create([network_row(p, cidr=network(n)) for n, p in enumerate(providers)])
    return list(AbuseContact.objects.bulk_create([
        AbuseContact(provider=p, name=f"Bench Host {n} abuse desk", email=f"abuse@host{n}.example", channel="email",
                     language="en", repeat_hours=24) for n, p in enumerate(providers)]))


def wave(dns: Any, contacts: list[Any], per_notice: int, number: int, profile: str = "") -> dict[str, Any]:
    """Items traced to each contact, due decisions; then the notices taken and sent, the CPU measured."""
    from django.db import connection
    from django.utils import timezone

    from hotline.reports.models import Item, ItemStatus
    from hotline.routing.models import Decision, Route
    from hotline.takedown.models import Notice
    from hotline.takedown.services import send_due, take_due_decisions
    from hotline.tracing.models import Trace, TraceOutcome

    now = timezone.now()
    rows = []
    for n, contact in enumerate(contacts):
        for k in range(per_notice):
            host = f"w{number}-c{n}-i{k}.sim.test"
            dns.set(host, A=[address(n, k)])
            rows.append((contact, host, address(n, k)))
    made = Item.objects.bulk_create([Item(
        raw_url=f"http://{host}/page", canonical_url=f"http://{host}/page", dedup_key=f"bench-{host}", host=host,
        status=ItemStatus.ASSESSED, verdict="baseline", first_reported_at=now, last_reported_at=now,
        status_changed_at=now, assessed_at=now) for _, host, _ in rows])
    traces = Trace.objects.bulk_create([Trace(
        item=item, traced_at=now, host=item.host, outcome=TraceOutcome.OK, addresses=[{"ip": ip}], country="BE",
        country_signals={"iptocc": "BE"}, provider=contact.provider, abuse_contact=contact)
        for item, (contact, _, ip) in zip(made, rows, strict=True)])
    Decision.objects.bulk_create([Decision(item=t.item, trace=t, decided_at=now, route=Route.DOMESTIC,
                                           notice_due_at=now, inputs={"abuse_contact_id": t.abuse_contact_id})
                                  for t in traces])
    sent_before = Notice.objects.filter(sent_at__isnull=False).count()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU of this thread, not waiting
        profiler.enable()
    shapes: Counter[str] = Counter()

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        shapes[re.sub(r"\b\d+\b", "?", sql)[:140]] += 1
        return execute(sql, params, many, context)

    process, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
    with connection.execute_wrapper(count):
        while take_due_decisions(now=timezone.now()):
            pass
        took, taking = time.thread_time() - thread, sum(shapes.values())
        while send_due(limit=20):
            pass
    thread, process, wall = time.thread_time() - thread, time.process_time() - process, time.perf_counter() - wall
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
        with open(f"{profile}.sql", "w") as out:
            out.writelines(f"{n:>6} {sql}\n" for sql, n in shapes.most_common())
    sent = Notice.objects.filter(sent_at__isnull=False).count() - sent_before
    return {"notices": sent, "items": len(rows), "product": thread, "take": took, "world": process - thread,
            "wall": wall, "queries": sum(shapes.values()), "queries_taking": taking}


# ------------------------------------------------------------------ the parent: A/B in alternating order


def run_side(script: str, root: Path, side: str, database: str, child_args: list[str]) -> dict[str, Any]:
    """Run ``script --child ARGS`` with the tree ``root`` first on the path, on a scratch database of its own (the
    PostgreSQL database ``<name>_<script>_<side>``, or a temporary SQLite file); its last line of output is JSON.
    Shared with bench/assess_cost.py."""
    bench = Path(script).stem
    with tempfile.TemporaryDirectory(prefix=f"{bench}-") as folder:
        url = scratch_database(database, f"{bench}_{side}") if database else f"sqlite:///{folder}/bench.sqlite3"
        env = os.environ | {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "hotline.settings_test",
                            "HOTLINE_VAR_DIR": folder, "HOTLINE_STORE_ROOT": f"{folder}/store",
                            "HOTLINE_DEBUG": "false", "HOTLINE_LOG_LEVEL": "ERROR", "PYTHONPATH": str(root)}
        run = subprocess.run([sys.executable, str(Path(script).resolve()), "--child", *child_args], env=env,
                             capture_output=True, text=True, cwd=str(root))
        if run.returncode != 0:
            sys.exit(f"the {side} run failed:\n{run.stderr[-4000:]}")
        return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def interleaved(sides: dict[str, Path], rounds: int,
                run: Callable[[Path, str], dict[str, Any]]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``rounds`` rounds of one run per side, the order turned round every round: (round, side, result)."""
    for number in range(rounds):
        for side in (list(sides) if number % 2 else list(reversed(sides))):
            yield number, side, run(sides[side], side)


def measure(root: Path, args: argparse.Namespace, side: str) -> dict[str, Any]:
    child_args = ["--notices", str(args.notices), "--items", str(args.items)]
    result = run_side(__file__, root, side, args.database,
                      child_args + (["--profile", args.profile] if args.profile else []))
    if result["notices"] != args.notices or result["received"] != 2 * args.notices:
        sys.exit(f"the {side} run sent {result['notices']} notices, the sink got {result['received']}")
    return result


def per_notice(result: dict[str, Any], key: str) -> float:
    return float(result[key]) * 1000 / result["notices"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notices", type=int, default=40)
    parser.add_argument("--items", type=int, default=2, help="items per notice")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="", help="a checkout of the code to compare with")
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: a scratch SQLite file)")
    parser.add_argument("--profile", default="", help="write a cProfile of the measured wave here (child)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.notices, args.items, args.profile)
        return
    sides = {"after": ROOT} | ({"before": Path(args.baseline).resolve()} if args.baseline else {})
    print(f"{'PostgreSQL' if args.database else 'SQLite'}: {args.notices} notices of {args.items} items, "
          f"{args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for number, side, result in interleaved(sides, args.rounds, lambda root, side: measure(root, args, side)):
        runs[side].append(result)
        print(f"  round {number + 1} {side:<6} product {per_notice(result, 'product'):6.2f} ms/notice "
              f"(taking decisions {per_notice(result, 'take'):5.2f}), simulated world "
              f"{per_notice(result, 'world'):5.2f}, wall {per_notice(result, 'wall'):6.2f}; queries per notice "
              f"{result['queries'] / result['notices']:.1f} "
              f"(taking {result['queries_taking'] / result['notices']:.1f})")
    best = {side: min(found, key=lambda r: r["product"]) for side, found in runs.items()}
    for side, result in best.items():
        print(f"{side:<7} CPU ms per notice: product {per_notice(result, 'product'):.2f} "
              f"(of which taking decisions {per_notice(result, 'take'):.2f}), "
              f"simulated world {per_notice(result, 'world'):.2f}")
    if "before" in best:
        ratio = best["before"]["product"] / best["after"]["product"]
        print(f"RESULT product_ms_per_notice before={per_notice(best['before'], 'product'):.2f} "
              f"after={per_notice(best['after'], 'product'):.2f} before/after={ratio:.2f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
