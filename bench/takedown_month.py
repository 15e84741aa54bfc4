"""A simulated month of notice-and-takedown on a fake clock, ending with the provider scorecard.

    .venv/bin/python bench/takedown_month.py [--items 10000] [--days 30] [--database postgres://...]

Items arrive evenly over the first two thirds of the period, hosted by simulated providers of every
behaviour (remove fast / slowly, ignore, acknowledge only, remove then re-upload, move to another network;
information requests answered, late, never, refused). Every 30 simulated minutes the real worker steps
run: notices (batched, rendered, XARF, sent over SMTP to a loopback server the providers read), repeats,
escalation, information requests and liveness checks with the real checker and life cycle. Two parts are
simulated to keep a month of 10,000 items to minutes: the checker reads the simulated web's state in
memory instead of over HTTP (bench/liveness.py measures the HTTP path), and the re-trace before sending
reads the simulated hosting instead of DNS (the tracer has its own tests).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
TICK = timedelta(minutes=30)
H, D = timedelta(hours=1), timedelta(days=1)
# name, behaviour, ack after, remove (or move) after, requests, answer after
PROVIDERS: list[tuple[str, str, timedelta, timedelta, str, timedelta]] = [
    ("Swift Hosting", "prompt", 10 * timedelta(minutes=1), 2 * H, "prompt", D),
    ("Steady Hosting", "prompt", 2 * H, 20 * H, "late", 20 * D),
    ("Sluggish Hosting", "prompt", D, 5 * D, "prompt", 3 * D),
    ("Silent Hosting", "ignore", D, D, "never", D),
    ("Deaf Hosting", "ignore", D, D, "never", D),
    ("Polite Hosting", "ack_only", H, D, "refuse", 2 * D),
    ("Boomerang Hosting", "reupload", H, 6 * H, "prompt", 5 * D),
    ("Nomad Hosting", "move", 2 * H, 12 * H, "late", 30 * D),
]
HARBOUR = ("Harbour Hosting", "prompt", H, 8 * H, "prompt", D)  # where Nomad's content moves to
LANGUAGES = ("en", "nl", "fr", "de")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", default="", help="DATABASE_URL (default: a scratch SQLite file)")
    args = parser.parse_args()
    from hotline.sim.smtp import SmtpSink

    with SmtpSink() as sink:
        setup_django(args.database, sink)
        run(args, sink)


def setup_django(database: str, sink: Any) -> None:
    scratch = tempfile.mkdtemp(prefix="hotline-bench-month-")
    if database.startswith("postgres"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from intake_throughput import scratch_database

        os.environ["DATABASE_URL"] = scratch_database(database)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ |= {"DJANGO_SETTINGS_MODULE": "hotline.settings_test", "HOTLINE_STORE_ROOT": f"{scratch}/store",
                   "HOTLINE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                   "HOTLINE_SMTP_HOST": sink.host, "HOTLINE_SMTP_PORT": str(sink.port), "HOTLINE_LOG_LEVEL": "ERROR"}
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run(args: argparse.Namespace, sink: Any) -> None:
    from django.utils import timezone

    from hotline.sim.providers import SimProviders
    from hotline.sim.web import SimWeb

    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    with SimWeb(suffixes=(".sim.test",)) as web:
        providers = SimProviders(web)
        providers.attach_sink(sink)
        contacts = make_providers(providers)
        install_simulated_retrace(providers, contacts)
        arrivals = make_items(args.items, args.days, start, providers, contacts)
        requests = plan_requests(args.requests, args.days, start, contacts)
        started = time.perf_counter()
        simulate(start, args.days, providers, requests)
        seconds = time.perf_counter() - started
    report(args, start + args.days * D, seconds, arrivals, sink)


def make_providers(providers: Any) -> dict[str, Any]:
    from hotline.sim.providers import Behaviour, RequestBehaviour, SimProvider
    from hotline.takedown.models import EscalationContact
    from hotline.tracing.models import AbuseContact, Provider

    contacts = {}
    for n, (name, behaviour, ack, gone, requests, answer) in enumerate([*PROVIDERS, HARBOUR]):
        provider = Provider.objects.create(name=name, country="BE")
        slug = name.split()[0].lower()
        contacts[name] = AbuseContact.objects.create(
            provider=provider, name=f"{name} abuse desk", email=f"abuse@{slug}.example", language=LANGUAGES[n % 4])
        providers.add(SimProvider(name, Behaviour(behaviour), contact=f"abuse@{slug}.example", ack_after=ack,
                                  remove_after=gone, reupload_after=4 * D, move_to=HARBOUR[0],
                                  requests=RequestBehaviour(requests), answer_after=answer))
    transit = AbuseContact.objects.create(name="Transit Net NOC", email="abuse@transit.example")
    EscalationContact.objects.create(role="upstream", provider=contacts["Silent Hosting"].provider, contact=transit)
    return contacts


def install_simulated_retrace(providers: Any, contacts: dict[str, Any]) -> None:
    """The re-trace reads who hosts the page now (a move shows as a new trace to the new network)."""
    from hotline.takedown.services import sending
    from hotline.tracing.models import Trace

    def retrace(item: Any, *, now: datetime) -> Trace:
        latest = Trace.objects.filter(item=item, outcome="ok").order_by("-traced_at", "-pk").first()
        owner = contacts[providers.owner[item.canonical_url]]
        if latest is not None and latest.abuse_contact_id == owner.pk:
            return latest
        return Trace.objects.create(item=item, traced_at=now, host=item.host, outcome="ok",
                                    addresses=[{"ip": "91.183.200.1"}], country="BE", provider=owner.provider,
                                    abuse_contact=owner, changed=True)

    sending.trace_item = retrace  # type: ignore[assignment]


def make_items(count: int, days: int, start: datetime, providers: Any, contacts: dict[str, Any]) -> list[datetime]:
    """Items (assessed, captured, traced, routed) in bulk; each becomes due for a notice on arrival."""
    from hotline.evidence.models import Capture, Media
    from hotline.reports.models import Item
    from hotline.routing.models import Decision
    from hotline.tracing.models import Trace

    rng = random.Random(5)
    spread = days * 2 / 3 * D
    arrivals = sorted(start + spread * rng.random() for _ in range(count))
    rows = []
    for n, at in enumerate(arrivals):
        name = PROVIDERS[n % len(PROVIDERS)][0]
        url = providers.host_content(name, f"{name.split()[0].lower()}-{n % 25}.sim.test", f"/p/{n}", seed=n)
        rows.append((url, at, name))
    Item.objects.bulk_create([
        Item(raw_url=url, canonical_url=url, dedup_key=f"month-{n}", host=url.split("/")[2].split(":")[0],
             status="assessed", verdict="baseline", first_reported_at=at, last_reported_at=at, status_changed_at=at,
             assessed_at=at) for n, (url, at, _) in enumerate(rows)], batch_size=2000)
    items = dict(Item.objects.values_list("canonical_url", "pk"))
    Capture.objects.bulk_create([Capture(item_id=items[url], started_at=at, finished_at=at, outcome="captured",
                                         requested_url=url) for url, at, _ in rows], batch_size=2000)
    captures = dict(Capture.objects.values_list("item_id", "pk"))
    Media.objects.bulk_create([
        Media(capture_id=captures[items[url]], item_id=items[url], kind="image", fetched_at=at,
              url=providers.media_url(url), sha256=hashlib.sha256(providers.media_bytes(url)).hexdigest())
        for url, at, _ in rows], batch_size=2000)
    Trace.objects.bulk_create([
        Trace(item_id=items[url], traced_at=at, host=url.split("/")[2].split(":")[0], outcome="ok",
              addresses=[{"ip": "91.183.100.1"}], country="BE", provider=contacts[name].provider,
              abuse_contact=contacts[name]) for url, at, name in rows], batch_size=2000)
    traces = dict(Trace.objects.values_list("item_id", "pk"))
    Decision.objects.bulk_create([
        Decision(item_id=items[url], trace_id=traces[items[url]], decided_at=at, route="domestic", notice_due_at=at)
        for url, at, _ in rows], batch_size=2000)
    return arrivals


def plan_requests(count: int, days: int, start: datetime, contacts: dict[str, Any]) -> list[tuple[datetime, Any]]:
    rng = random.Random(9)
    names = [p[0] for p in PROVIDERS]
    return sorted(((start + days / 2 * D * rng.random(), contacts[names[n % len(names)]]) for n in range(count)),
                  key=lambda pair: pair[0])


def simulate(start: datetime, days: int, providers: Any, requests: list[tuple[datetime, Any]]) -> None:
    from hotline.audit.services import SYSTEM
    from hotline.takedown import respond
    from hotline.takedown.services import LivenessConfig, NewRequest, create_info_request
    from hotline.takedown.steps import escalation_step, inforequest_step, liveness_step, notice_step

    config = LivenessConfig(policy=None, checker=memory_checker(providers), concurrency=4, batch=1000)  # type: ignore[arg-type]
    now, end, pending = start, start + days * D, list(requests)
    while now < end:
        while pending and pending[0][0] <= now:
            _, contact = pending.pop(0)
            create_info_request(NewRequest(
                kind="preservation", on_behalf_of="hotline", company=contact.provider,
                company_name=contact.provider.name, email=contact.email, subject_type="account",
                subject=f"account-{len(pending)}", legal_basis="simulated legal basis"), actor=SYSTEM, now=now)
        for action in providers.advance(now):
            if action.link and action.kind != "moved":
                kind = {"acknowledge": "acknowledge", "removed": "removed"}.get(action.kind, action.kind)
                with contextlib.suppress(respond.RespondError):  # e.g. answered after the hotline gave up
                    respond.act(respond.resolve(action.link.split("?t=", 1)[1]), kind, note="", now=action.at)
        while notice_step(now=now) | escalation_step(now=now) | inforequest_step(now=now):
            pass
        while liveness_step(now=now, config=config):
            pass
        now += TICK


def memory_checker(providers: Any) -> Any:
    from hotline.lib.http import FetchPolicy, FetchResult
    from hotline.takedown.checker import Checker

    class _Memory(Checker):
        def _fetch(self, url: str) -> FetchResult:
            status, body = providers.serve(url)
            return FetchResult(final_url=url, status_code=status, headers=[], body=body, peer_ip="127.0.0.1",
                               redirects=[], elapsed=0.0)

    return _Memory(FetchPolicy())


def report(args: argparse.Namespace, end: datetime, seconds: float, arrivals: list[datetime], sink: Any) -> None:
    from django.db import connection

    from hotline.takedown.models import Notice, Takedown
    from hotline.takedown.scorecards import as_row, scorecards
    from hotline.takedown.timings import within

    print(f"{args.items} items, {args.days} simulated days in {seconds:.0f} s ({connection.vendor}); "
          f"{Notice.objects.filter(state='sent').count()} notices sent, {len(sink.messages())} e-mails received")
    rows = Takedown.objects.values_list("reported_at", "first_removed_at")
    for name, limit in (("24 h", D), ("3 days", 3 * D), ("7 days", 7 * D)):
        flags = [within(start, removed, limit, end) for start, removed in rows]
        known = [f for f in flags if f is not None]
        print(f"removed within {name} of the report: {sum(known) / max(len(known), 1) * 100:5.1f} % of {len(known)}")
    columns = ["name", "notices_sent", "items", "removed", "ack_median", "removal_median", "removal_p90",
               "removed_within_24h", "removed_within_3d", "online_beyond_7d", "online_beyond_30d", "reuploads",
               "requests", "requests_answered", "requests_refused", "requests_no_answer"]
    print(" | ".join(columns))
    for card in scorecards("provider", now=end):
        row = as_row(card)
        print(" | ".join(str(row[c]) for c in columns))


if __name__ == "__main__":
    main()
