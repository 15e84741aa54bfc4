"""Statistics at scale: the dashboard and the annual report over a million items, against a naive baseline.

    .venv/bin/python bench/stats_scale.py --items 1000000 [--database postgres://postgres@127.0.0.1:5432/h_stats]

Creates a scratch PostgreSQL database (``<name>_bench``) and COPYs in a synthetic history spread evenly over
two calendar years (2024 and 2025): one report per item, a final assessment for 95 % of them (30 % illegal),
for each illegal item a trace (200 providers, 12 countries), a routing decision, a police referral (groups of
ten), a takedown (90 %) and a partner forward (10 %); plus case files with outcomes. Every URL is on a
.sim.test host. Then, in the same run:
  1. ``hotline stats refresh``: every item's facts from those rows (items/s);
  2. the dashboard's main view (HTML, all tables and charts) for the year 2025, as a manager, three times;
  3. the annual report for 2025 (HTML + PDF);
  4. baseline: the 2025 headline and time-to-X figures computed by loading the source rows into Python
     (what the dashboard would do without the fact table), and the ratio of 4 to 2.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = (datetime(2026, 1, 1, tzinfo=UTC) - START).total_seconds()
COUNTRIES = ["BE"] * 6 + ["NL", "DE", "FR", "US", "RU", "UA", "CA", "GB", "SE", "PL", "JP", "BR"]
VERDICTS = ["baseline"] * 20 + ["national"] * 10 + ["not_illegal"] * 60 + ["unreachable"] * 5 + ["other_harm"] * 5


def _copy(cursor: Any, model: Any, rows: Iterator[dict[str, Any]]) -> int:
    """COPY ``rows`` into the model's table; columns not given take the field's Python default."""
    fields = [f for f in model._meta.concrete_fields]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    defaults = {f.attname: f.get_default() for f in fields}
    count = 0
    with cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = []
            for f in fields:
                value = row[f.attname] if f.attname in row else defaults[f.attname]
                values.append(json.dumps(value) if f.get_internal_type() == "JSONField" else value)
            copy.write_row(values)
            count += 1
    return count


def _when(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.random() * SPAN)


def generate(total: int, seed: int = 11) -> dict[str, int]:
    """The synthetic history, COPYed table by table; returns row counts."""
    from django.db import connection

    from hotline.partners.models import Forward, OutboundMessage, PartnerHotline, PoliceContact
    from hotline.reports.models import Item, Report, ReportItem
    from hotline.tracing.models import Provider

    rng = random.Random(seed)
    plan = [_plan(rng, n) for n in range(1, total + 1)]
    counts: dict[str, int] = {}
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        counts["providers"] = _copy(cursor, Provider, ({"id": p, "name": f"Provider {p}", "country": COUNTRIES[p % 18],
                                                        "created_at": START} for p in range(1, 201)))
        PoliceContact.objects.create(id=1, name="Unit", country="BE", kind="national", email="unit@police.example")
        PartnerHotline.objects.create(id=1, code="nl-sim", name="NL partner", countries=["NL"])
        counts["reports"] = _copy(cursor, Report, ({"id": p["id"], "reference": f"HL-B{p['id']:011d}",
                                                    "source": p["source"], "received_at": p["at"], "url_count": 1}
                                                   for p in plan))
        counts["items"] = _copy(cursor, Item, (_item(p) for p in plan))
        counts["report_items"] = _copy(cursor, ReportItem, ({"id": p["id"], "report_id": p["id"], "item_id": p["id"],
                                                             "raw_url": p["url"], "position": 0} for p in plan))
        counts.update(_pipeline(cursor, plan))
        forwarded = [p for p in plan if p.get("forward")]
        counts["forwards"] = _copy(cursor, OutboundMessage, (
            {"id": n, "key": uuid.UUID(int=n), "partner_id": 1, "kind": "forward", "body": {},
             "created_at": p["at"], "state": "delivered"} for n, p in enumerate(forwarded, 1)))
        _copy(cursor, Forward, (
            {"id": n, "item_id": p["id"], "partner_id": 1, "message_id": n, "reference": f"F{n}", "status": "removed",
             "created_at": p["forward"][0], "created_by": "bench", "status_changed_at": p["forward"][2],
             "notice_sent_at": p["forward"][1], "removed_at": p["forward"][2]} for n, p in enumerate(forwarded, 1)))
    _cases(plan, rng)
    _reset_sequences()
    return counts


def _plan(rng: random.Random, n: int) -> dict[str, Any]:
    at = _when(rng)
    verdict = rng.choice(VERDICTS) if rng.random() < 0.95 else ""
    plan: dict[str, Any] = {"id": n, "at": at, "url": f"http://site-{n % 50000}.sim.test/p/{n}",
                            "source": rng.choice(["public"] * 6 + ["partner", "industry", "police", "email"]),
                            "verdict": verdict, "illegal": verdict in ("baseline", "national")}
    if plan["illegal"]:
        hour = 3600
        plan["provider"] = rng.randrange(1, 201)
        plan["country"] = COUNTRIES[plan["provider"] % 18]
        plan["police"] = at + timedelta(seconds=rng.expovariate(1 / (30 * hour)))
        if rng.random() < 0.9:
            notice = at + timedelta(seconds=rng.expovariate(1 / (20 * hour)))
            removed = notice + timedelta(seconds=rng.expovariate(1 / (60 * hour))) if rng.random() < 0.85 else None
            plan["takedown"] = (notice, removed)
        if plan["country"] == "NL":
            created = at + timedelta(hours=rng.randrange(1, 48))
            plan["forward"] = (created, created + timedelta(hours=12), created + timedelta(days=rng.randrange(1, 9)))
    return plan


def _item(p: dict[str, Any]) -> dict[str, Any]:
    status = "assessed" if p["verdict"] else "captured"
    return {"id": p["id"], "raw_url": p["url"], "canonical_url": p["url"], "dedup_key": f"{p['id']:064x}",
            "host": p["url"].split("/")[2], "status": status, "verdict": p["verdict"], "report_count": 1,
            "first_reported_at": p["at"], "last_reported_at": p["at"], "status_changed_at": p["at"],
            "captured_at": p["at"], "assessed_at": p["at"] + timedelta(hours=2) if p["verdict"] else None}


def _pipeline(cursor: Any, plan: list[dict[str, Any]]) -> dict[str, int]:
    from hotline.assessment.models import Assessment
    from hotline.routing.models import Decision, Referral
    from hotline.takedown.models import Takedown
    from hotline.tracing.models import Trace

    assessed = [p for p in plan if p["verdict"]]
    illegal = [p for p in plan if p["illegal"]]
    counts = {"assessments": _copy(cursor, Assessment, (
        {"id": p["id"], "item_id": p["id"], "analyst_id": None, "inherited": True, "created_at": p["at"] +
         timedelta(hours=2), "is_final": True, "verdict": p["verdict"],
         "content_type": "image" if p["illegal"] else "", "age_group": "pubescent" if p["illegal"] else "",
         "site_type": "image_host" if p["illegal"] else ""} for p in assessed))}
    counts["traces"] = _copy(cursor, Trace, (
        {"id": p["id"], "item_id": p["id"], "traced_at": p["at"] + timedelta(hours=3), "host": p["url"].split("/")[2],
         "outcome": "ok", "country": p["country"], "provider_id": p["provider"]} for p in illegal))
    counts["decisions"] = _copy(cursor, Decision, (
        {"id": p["id"], "item_id": p["id"], "decided_at": p["at"] + timedelta(hours=3),
         "route": "partner" if p.get("forward") else "domestic"} for p in illegal))
    groups = [illegal[i:i + 10] for i in range(0, len(illegal), 10)]
    counts["referrals"] = _copy(cursor, Referral, (
        {"id": n, "key": uuid.UUID(int=n), "police_id": 1, "created_at": g[0]["police"], "status": "sent",
         "sent_at": max(p["police"] for p in g)} for n, g in enumerate(groups, 1)))
    _copy(cursor, Referral.items.through, (
        {"id": p["id"], "referral_id": n, "item_id": p["id"]} for n, g in enumerate(groups, 1) for p in g))
    counts["takedowns"] = _copy(cursor, Takedown, (_takedown(p) for p in illegal if p.get("takedown")))
    return counts


def _takedown(p: dict[str, Any]) -> dict[str, Any]:
    notice, removed = p["takedown"]
    return {"id": p["id"], "item_id": p["id"], "state": "removed" if removed else "online",
            "state_changed_at": removed or notice, "opened_at": notice, "reported_at": p["at"],
            "provider_id": p["provider"], "first_notice_at": notice, "last_notice_at": notice, "removed_at": removed}


def _cases(plan: list[dict[str, Any]], rng: random.Random) -> None:
    from hotline.cases.models import Case, CaseItem, Outcome

    illegal = [p for p in plan if p["illegal"]][::50]
    cases = Case.objects.bulk_create([Case(reference=f"CASE-B-{n:06d}", kind="same_site", title="bench",
                                           opened_at=p["at"], status_changed_at=p["at"])
                                      for n, p in enumerate(illegal)], batch_size=5000)
    CaseItem.objects.bulk_create([CaseItem(case=c, item_id=p["id"], added_at=p["at"])
                                  for c, p in zip(cases, illegal, strict=True)], batch_size=5000)
    Outcome.objects.bulk_create([
        Outcome(case=c, code=code, reason="offender_unknown" if code == "dismissed" else "",
                decided_on=(p["at"] + timedelta(days=60)).date(), recorded_at=p["at"], recorded_by_label="bench",
                source="csv")
        for c, p in zip(cases, illegal, strict=True) for code in [rng.choice(["dismissed", "prosecuted"])]],
        batch_size=5000)


def _reset_sequences() -> None:
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), list(apps.get_models()))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
        cursor.execute("ANALYZE")


def timed(label: str, fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:8.2f} s", flush=True)
    return seconds, result


def _vacuum() -> None:
    """What autovacuum would have done by the time anyone looks: visibility map and planner statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def dashboard_client(reuse: bool) -> Any:
    from django.test import Client

    from hotline.accounts.models import Role, User
    from hotline.accounts.services import create_user
    from hotline.accounts.session import mark_second_factor_done
    from hotline.audit.services import SYSTEM

    client = Client()
    user = User.objects.filter(username="bench-manager").first() if reuse else None
    client.force_login(user or create_user("bench-manager", "bench-password-not-real-0", Role.MANAGER, actor=SYSTEM))
    session = client.session
    mark_second_factor_done(session)
    session.save()
    return client


def naive_baseline(now: datetime) -> dict[str, Any]:
    """The 2025 headline and time-to-X figures from the source rows, loaded into Python (no fact table)."""
    from hotline.reports.models import Item, Report
    from hotline.stats import facts
    from hotline.stats.figures import STEPS

    first, last = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    ids = list(Item.objects.filter(first_reported_at__gte=first, first_reported_at__lt=last)
               .values_list("pk", flat=True))
    rows = facts.compute(ids, now=now)
    found: dict[str, Any] = {"reports": Report.objects.filter(received_at__gte=first, received_at__lt=last).count(),
                             "items": len(rows), "illegal": sum(r.illegal for r in rows)}
    for step, (column, _expected) in STEPS.items():
        values = sorted(getattr(r, column) for r in rows if r.illegal and getattr(r, column) is not None)
        found[step] = (statistics.median(values) if values else None, len(values))
    return found


def run(total: int, *, reuse: bool) -> None:
    from django.utils import timezone

    from hotline.stats import annual
    from hotline.stats.facts import refresh_all
    from hotline.stats.models import ItemFact

    now = timezone.now()
    if reuse:
        total = done = ItemFact.objects.count()
        refresh_seconds = float("nan")
        print(f"reusing the scratch database: {total:,} items with facts")
    else:
        print(f"generating {total:,} items ...", flush=True)
        _, counts = timed("COPY the synthetic history", generate, total)
        print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        refresh_seconds, done = timed("stats refresh: facts of every item", refresh_all, now=now)
        _vacuum()
    client = dashboard_client(reuse)
    runs = []
    for n in range(3):
        seconds, response = timed(f"dashboard, year 2025, HTML with charts (run {n + 1})", client.get,
                                  "/statistics/", {"year": "2025"})
        assert response.status_code == 200, response.status_code
        runs.append(seconds)
    transparency = []
    for n in range(3):
        seconds, response = timed(f"transparency report, year 2025, HTML (run {n + 1})", client.get,
                                  "/statistics/transparency/", {"year": "2025"})
        assert response.status_code == 200, response.status_code
        transparency.append(seconds)
    out = Path(tempfile.mkdtemp(prefix="hotline-bench-annual-"))
    annual_seconds, _ = timed("annual report 2025 (HTML + PDF)",
                              lambda: annual.write(annual.build(2025, "en", now=now), out))
    naive_seconds, naive = timed("baseline: same headline + timings from rows in Python", naive_baseline, now)
    best = min(runs)
    print(f"\nitems {total:,}; facts refreshed {done:,} in {refresh_seconds:.1f} s ({done / refresh_seconds:,.0f}/s)")
    print(f"dashboard main view: best {best:.2f} s, median {statistics.median(runs):.2f} s (target < 2 s)")
    print(f"transparency report: best {min(transparency):.2f} s, median {statistics.median(transparency):.2f} s")
    print(f"annual report: {annual_seconds:.1f} s (target < 60 s); files in {out}")
    print(f"naive baseline: {naive_seconds:.1f} s for a subset of the figures "
          f"({naive['items']:,} items of 2025) -> dashboard is {naive_seconds / best:.0f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--reuse", action="store_true", help="measure again on the scratch database of a last run")
    args = parser.parse_args()
    if not args.database.startswith("postgres"):
        sys.exit("give --database (or DATABASE_URL) of a PostgreSQL server: the bench creates its own scratch database")
    from intake_throughput import scratch_database

    parts = urlparse(args.database)
    scratch = urlunparse(parts._replace(path=f"/{parts.path.lstrip('/') or 'hotline'}_bench"))
    os.environ["DATABASE_URL"] = scratch if args.reuse else scratch_database(args.database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run(args.items, reuse=args.reuse)


if __name__ == "__main__":
    main()
