"""Worker throughput with 1, 2 and 4 processes of one type (capture, trace, notice) on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/scale_workers.py [--items 120]

Creates a scratch database (``<name>_scale``), starts the simulated web, the demo DNS/RDAP and an SMTP
sink on loopback, then for each process count P in 1, 2, 4: reports ``--items`` fresh URLs (all hosted
"at home", so every item also gets a notice), runs P ``hotline worker --only capture`` processes until
all are captured, assesses them (untimed), runs P ``--only trace`` processes, routes (untimed), and runs
P ``--only notice`` processes until every notice is sent. A stage's clock starts when the first result
appears (so process start-up is excluded) and stops when the last one does. Prints items/s per stage
and P, and the speed-up against P = 1 measured in the same run. Nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
COUNTS = (1, 2, 4)
LATER = datetime(2100, 1, 1, tzinfo=UTC)


def scratch_database(url: str, suffix: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_{suffix}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def base_env(database_url: str, var_dir: Path) -> dict[str, str]:
    """Production settings (DEBUG off) with throw-away keys, the scratch database and no outside host."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return keep | {
        "DJANGO_SETTINGS_MODULE": "hotline.settings", "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url,
        "HOTLINE_DEBUG": "false", "HOTLINE_SSL_REDIRECT": "false", "HOTLINE_ALLOWED_HOSTS": "127.0.0.1",
        "HOTLINE_SECRET_KEY": secrets.token_urlsafe(40), "HOTLINE_FIELD_KEYS": "bench1:" + "C" * 43,
        "HOTLINE_STORE_KEYS": "benchstore1:" + "D" * 43, "HOTLINE_EVIDENCE_SIGNING_KEY": "R" * 43 + "=",
        "HOTLINE_EXCHANGE_SIGNING_KEY": "E" * 43 + "=", "HOTLINE_VAR_DIR": str(var_dir),
        "HOTLINE_LOG_LEVEL": "WARNING", "HOTLINE_POLICE_HOLD_HOURS": "0", "HOTLINE_TAKEDOWN_BATCH_MINUTES": "0",
        "HOTLINE_API_RATE": "1000000/m",
    }


class Simulations(ExitStack):
    """SimWeb, DemoHosting and an SmtpSink on loopback; ``env`` points processes at them."""

    def __enter__(self) -> Simulations:
        super().__enter__()
        from hotline.demo.hosting import DemoHosting
        from hotline.sim.smtp import SmtpSink
        from hotline.sim.web import SimWeb

        self.web = self.enter_context(SimWeb(suffixes=(".sim.test",), catch_all=True))
        self.hosting = self.enter_context(DemoHosting())
        self.sink = self.enter_context(SmtpSink())
        return self

    @property
    def env(self) -> dict[str, str]:
        return {"HOTLINE_FETCH_ALLOW_LOOPBACK": "true", "HOTLINE_SIM_HOSTS": json.dumps(self.web.host_map),
                "HOTLINE_SIM_PORTS": json.dumps({"80": self.web.port}),
                "HOTLINE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "HOTLINE_SMTP_HOST": self.sink.host, "HOTLINE_SMTP_PORT": str(self.sink.port), **self.hosting.env}


def setup_django(env: dict[str, str]) -> None:
    """Configure this process like the workers, then migrate the scratch database."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def start_workers(env: dict[str, str], only: str, count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` workers of one type and return once each has logged that it runs (idle, no work yet)."""
    command = [sys.executable, "-m", "hotline.cli", "worker", "--only", only, "--sleep", "0.2"]
    logs = [log_dir / f"{only}-{n}.log" for n in range(count)]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env | {"HOTLINE_LOG_LEVEL": "INFO"},
                                  stdout=subprocess.DEVNULL, stderr=log.open("wb")) for log in logs]
    deadline = time.monotonic() + 120
    while not all("worker started" in log.read_text(errors="replace") for log in logs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            stop(processes)
            raise SystemExit(f"{only} workers did not start; see {log_dir}")
        time.sleep(0.1)
    return processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def timed(release: Callable[[], object], done: Callable[[], int], total: int, timeout: float = 600) -> float:
    """Seconds from releasing the work (workers already idle) until ``done()`` reaches ``total``."""
    started = time.monotonic()
    release()
    while time.monotonic() - started < timeout:
        if done() >= total:
            return time.monotonic() - started
        time.sleep(0.05)
    raise SystemExit(f"timed out: {done()} of {total} done")


def home_hosts(count: int, tag: str) -> list[str]:
    """Invented host names the demo DNS places in the home country (BE)."""
    import ipaddress

    from hotline.demo.hosting import RANGES, address_for

    home = ipaddress.ip_network(next(r.cidr for r in RANGES if r.country == "BE"))
    names = (f"{tag}-{n}.sim.test" for n in range(count * 10))
    return [name for name in names if ipaddress.ip_address(address_for(name)) in home][:count]


def seed(count: int, tag: str) -> list[int]:
    from hotline.audit.services import Actor
    from hotline.reports.models import Item, Source
    from hotline.reports.services import IncomingReport, receive_reports

    urls = [f"http://{host}/page/1" for host in home_hosts(count, tag)]
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=[u]) for u in urls], actor=Actor(label="bench"))
    return list(Item.objects.filter(host__startswith=f"{tag}-").values_list("pk", flat=True))


def assess(ids: list[int], analyst: Any) -> None:
    from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Verdict
    from hotline.assessment.services import AssessmentData, assess_item, claim_item
    from hotline.reports.models import Item

    data = AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                          content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT)
    for item in Item.objects.filter(pk__in=ids):
        assess_item(claim_item(item, user=analyst), data, user=analyst)


def hold_back(ids: list[int]) -> None:
    """Make this round's work not yet due, so the workers can start before the clock does."""
    from hotline.reports.models import Item

    Item.objects.filter(pk__in=ids).update(next_capture_at=LATER)


def stage_setup(name: str, ids: list[int], analyst: Any) -> Callable[[], object]:
    """Prepare a stage untimed and return the release: an UPDATE that makes the work due now."""
    from django.utils import timezone

    from hotline.reports.models import Item
    from hotline.routing.models import Decision
    from hotline.routing.steps import routing_step
    from hotline.tracing.models import TraceDue
    from hotline.tracing.services import enqueue_untraced

    if name == "capture":
        return lambda: Item.objects.filter(pk__in=ids).update(next_capture_at=timezone.now())
    if name == "trace":
        assess(ids, analyst)
        enqueue_untraced(LATER)
        return lambda: TraceDue.objects.filter(item_id__in=ids).update(due_at=timezone.now())
    while routing_step():
        pass
    Decision.objects.filter(item_id__in=ids).update(notice_due_at=LATER)
    return lambda: Decision.objects.filter(item_id__in=ids).update(notice_due_at=timezone.now())


def round_for(processes: int, items: int, env: dict[str, str], analyst: Any, log_dir: Path) -> dict[str, float]:
    from hotline.evidence.models import Capture
    from hotline.takedown.models import NoticeItem
    from hotline.tracing.models import Trace

    ids = seed(items, f"p{processes}-{secrets.token_hex(3)}")
    hold_back(ids)
    done: dict[str, Callable[[], int]] = {
        "capture": lambda: Capture.objects.filter(item_id__in=ids).count(),
        "trace": lambda: Trace.objects.filter(item_id__in=ids).count(),
        "notice": lambda: NoticeItem.objects.filter(item_id__in=ids, notice__sent_at__isnull=False).count(),
    }
    rates: dict[str, float] = {}
    for name, count in done.items():
        release = stage_setup(name, ids, analyst)
        workers = start_workers(env, name, processes, log_dir)
        try:
            rates[name] = len(ids) / timed(release, count, len(ids))
        finally:
            stop(workers)
    return rates


def seed_contacts() -> None:
    """One invented provider per /24 of the home range, so items spread over many abuse contacts and the
    notice stage sends about one notice per item instead of one batch for everything."""
    import io

    from hotline.audit.services import SYSTEM
    from hotline.demo.hosting import seed_directory
    from hotline.tracing.importer import import_providers

    seed_directory()
    providers = [{"name": f"Bench host {n} (invented)", "country": "BE", "cidrs": [f"193.190.{n}.0/24"],
                  "contacts": [{"email": f"abuse@bench-{n}.example", "channel": "email", "language": "nl"}]}
                 for n in range(256)]
    summary = import_providers(io.BytesIO(json.dumps(providers).encode()), fmt="json", actor=SYSTEM, origin="bench")
    if summary.errors:
        raise SystemExit(f"bench directory: {summary.errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=120)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (the bench creates its own scratch database)")
    var_dir = ROOT / "var" / "bench-scale"
    env = base_env(scratch_database(base_url, "scale"), var_dir)
    setup_django(env)
    with Simulations() as sims:
        env |= sims.env
        from hotline.accounts.models import Role
        from hotline.accounts.services import create_user
        from hotline.audit.services import SYSTEM

        seed_contacts()
        analyst = create_user("bench-analyst", secrets.token_urlsafe(16), Role.ANALYST, actor=SYSTEM)
        var_dir.mkdir(parents=True, exist_ok=True)
        results = {p: round_for(p, args.items, env, analyst, var_dir) for p in COUNTS}
    print(f"{args.items} items per round, {os.cpu_count()} CPU cores, PostgreSQL")
    print(f"{'stage':<8} " + " ".join(f"{p} proc items/s".rjust(18) for p in COUNTS) + "   speed-up 2x / 4x")
    for stage in ("capture", "trace", "notice"):
        rates = [results[p][stage] for p in COUNTS]
        print(f"{stage:<8} " + " ".join(f"{r:18.1f}" for r in rates)
              + f"   {rates[1] / rates[0]:.2f} / {rates[2] / rates[0]:.2f}")


if __name__ == "__main__":
    main()
