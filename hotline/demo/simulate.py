"""The end-to-end scenario behind ``hotline simulate`` and the demo: a plan's reports flow through every real
worker step on a fake clock, against the simulated world on loopback, with a scripted analyst and police
liaison doing what people do. Only the clock and the people are simulated; the steps are the product's own."""

from __future__ import annotations

import io
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import time_machine
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.test import Client
from django.utils import timezone

from hotline.accounts.models import ClientKind, User
from hotline.assessment.models import Assessment
from hotline.assessment.services import assess_item, claim_item
from hotline.assessment.steps import inherit_known_step
from hotline.audit.services import Actor
from hotline.demo.scenario import H, Plan, PlannedReport, make_plan
from hotline.demo.verdict_labels import SCRIPTED
from hotline.demo.world import World
from hotline.evidence.models import Media
from hotline.evidence.services import CaptureConfig
from hotline.evidence.steps import capture_step
from hotline.hashes.steps import match_step
from hotline.iccam.steps import pull_step, push_step
from hotline.lib import prepared
from hotline.partners.models import DeliveryState, Forward
from hotline.partners.steps import exchange_step
from hotline.reports.csv_import import import_csv
from hotline.reports.models import AWAITING_ASSESSMENT, Item
from hotline.reports.services import IncomingReport, receive_reports
from hotline.routing.models import Decision, PoliceAnswer, Referral, ReferralStatus
from hotline.routing.services import record_police_answer
from hotline.routing.steps import referral_step, routing_step
from hotline.sim.providers import Action
from hotline.stats.facts import refresh_all
from hotline.stats.figures import Scope
from hotline.stats.filters import Filters
from hotline.takedown import respond
from hotline.takedown.models import Notice, Takedown
from hotline.takedown.steps import escalation_step, liveness_step, notice_step
from hotline.tracing.steps import trace_step

DETAILED_DAYS = 4  # hourly steps until this long after the last report, then six-hourly
MAX_ROUNDS = 200  # a step that keeps finding work this often in one tick is a bug, not a busy hour


@dataclass
class Result:
    plan: Plan
    start: datetime
    end: datetime
    seconds: float
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    timings: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, int] = field(default_factory=dict)
    # AI-generated images (by the plan) that were captured, and those the capture flagged from their metadata.
    synthetic: dict[str, int] = field(default_factory=dict)


def default_start(days: int) -> datetime:
    """So the figures land in the recent past: ``days`` before the current hour."""
    return timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=days)


class Simulation:
    """One run: ``run()`` carries out the plan from ``start`` for ``plan.days`` and returns the end state."""

    def __init__(self, plan: Plan, world: World, *, start: datetime,
                 progress: Callable[[str], None] | None = None) -> None:
        self.plan, self.world, self.start = plan, world, start
        self.progress = progress or (lambda _line: None)
        self.pending = sorted(plan.reports, key=lambda r: r.hour)
        self.capture = CaptureConfig(policy=world.web.fetch_policy())
        self.liveness = world.liveness_config()
        self.client = Client()
        # Referrals the scripted police looked at and keep holding: their items and the plan's say are fixed.
        self.police_holds: set[int] = set()

    def run(self) -> Result:
        # Per-referral package building and index rebuilds log at INFO: quiet while the run lasts, restored after.
        previous = logging.root.manager.disable
        logging.disable(logging.INFO)
        try:
            return self._run()
        finally:
            logging.disable(previous)

    def _run(self) -> Result:
        began = time.perf_counter()
        end = self.start + timedelta(days=self.plan.days)
        # The clock ticks on from each step (a frozen clock would stop every network timeout).
        with time_machine.travel(self.start, tick=True) as clock:
            self.world.seed()
            self.analyst = User.objects.get(username="analyst")
            self.police = User.objects.get(username="police")
            now = self.start
            while now < end:
                self.tick(now)
                now += self.step_after(now)
                clock.move_to(min(now, end))
            self.tick(end)
            refresh_all(now=end)
            result = Result(self.plan, self.start, end, time.perf_counter() - began)
            fill_result(result)
            result.counts["partner"] = self.world.partner.counts()
        result.counts["iccam"] = iccam_counts(self.world.iccam)
        return result

    def step_after(self, now: datetime) -> timedelta:
        detailed_until = self.start + (self.plan.arrival_hours * H) + timedelta(days=DETAILED_DAYS)
        return H if now < detailed_until else 6 * H

    def tick(self, now: datetime) -> None:
        # The partner hotline first: its clock follows ours from here (our forwards of this tick must land
        # inside its receive window), and it works on what it received during the last tick.
        self.world.partner.tick(now)
        for action in self.world.providers.advance(now):
            self.carry_out(action)
        self.intake(now)
        for _ in range(3):  # a few passes: each step feeds the next within the same hour
            busy = self.pipeline(now)
            self.analyst_works(now)
            self.police_liaison_works(now)
            if not busy:
                break
        if now.hour == 0:
            removed = Takedown.objects.filter(state="removed").count()
            self.progress(f"{now:%Y-%m-%d}: {Item.objects.count()} items, {removed} removed")

    def pipeline(self, now: datetime) -> bool:
        steps: list[Callable[[], bool]] = [
            lambda: capture_step(now=now, config=self.capture), lambda: match_step(now=now),
            lambda: inherit_known_step(now=now), lambda: trace_step(now=now), routing_step, referral_step,
            lambda: exchange_step(now=now), lambda: notice_step(now=now),
            lambda: liveness_step(now=now, config=self.liveness), lambda: escalation_step(now=now),
            lambda: pull_step(now=now), lambda: push_step(now=now),
        ]
        busy = False
        for step in steps:
            for _ in range(MAX_ROUNDS):
                if not step():
                    break
                busy = True
        return busy

    # ------------------------------------------------------------------ the outside world acting

    def carry_out(self, action: Action) -> None:
        """What a provider does on our side: click the link in the notice, or move the site."""
        if action.kind == "moved":
            self.world.move(action.url, action.provider)
            return
        if "?t=" in action.link:
            kind = "acknowledge" if action.kind == "acknowledge" else "removed"
            respond.act(respond.resolve(action.link.split("?t=", 1)[1]), kind, note="", now=action.at)

    def intake(self, now: datetime) -> None:
        due: list[PlannedReport] = []
        while self.pending and self.start + self.pending[0].hour * H <= now:
            due.append(self.pending.pop(0))
        by_source: dict[str, list[PlannedReport]] = {}
        for report in due:
            by_source.setdefault(report.source, []).append(report)
        for source, reports in by_source.items():
            urls = [[self.world.urls[n] for n in report.sites] for report in reports]
            if source == "partner":  # the partner hotline files the same report in ICCAM: it arrives twice
                for group in urls:
                    self.world.iccam.add_report(group, reporting_hotline=43, memo="Synthetic simulated report.")
            {"public": self.public, "partner": self.api, "industry": self.api, "csv": self.csv}[source](
                source, urls, now)

    def public(self, source: str, urls: list[list[str]], now: datetime) -> None:
        receive_reports([IncomingReport(source="public", urls=u, text="Synthetic simulated report.")
                         for u in urls], actor=Actor(label="public form"), now=now)

    def api(self, source: str, urls: list[list[str]], now: datetime) -> None:
        kind = ClientKind.PARTNER if source == "partner" else ClientKind.INDUSTRY
        body = {"submission_id": f"{source}-{now:%Y%m%d%H%M%S}",
                "reports": [{"urls": u, "text": "Synthetic simulated report."} for u in urls]}
        answer = self.client.post("/api/v1/submissions", json.dumps(body), content_type="application/json",
                                  HTTP_AUTHORIZATION=f"Bearer {self.world.tokens[kind]}")
        if answer.status_code != 200:
            raise RuntimeError(f"the {source} API refused the submission: {answer.status_code} {answer.content!r}")

    def csv(self, source: str, urls: list[list[str]], now: datetime) -> None:
        lines = ["url"] + [url for group in urls for url in group[:1]]
        extra = [IncomingReport(source="csv", urls=group[1:]) for group in urls if len(group) > 1]
        import_csv(io.BytesIO("\n".join(lines).encode()), actor=Actor(label="csv import"))
        if extra:  # a CSV line names one URL: a report naming two arrives as a second line's report
            receive_reports(extra, actor=Actor(label="csv import"), now=now)

    # ------------------------------------------------------------------ the people

    def analyst_works(self, now: datetime) -> None:
        """The scripted analyst assesses every item waiting, with the label the plan gives its site."""
        # A re-opened item (re-upload) already has its final assessment and no service re-assesses it: skipped.
        if not prepared.any_row("demo.analyst_waiting", _waiting):  # most passes find nothing: one query, compiled once
            return
        for item in self.waiting_items(now):
            site = self.world.site_of_host(item.host)
            if site is None:
                continue
            claim_item(item, user=self.analyst, now=now)
            assess_item(item, SCRIPTED[site.fate], user=self.analyst, now=now)

    def waiting(self, now: datetime) -> QuerySet[Item]:
        """Items waiting for the scripted analyst: unclaimed, and without a final assessment."""
        return _waiting()

    def waiting_items(self, now: datetime) -> list[Item]:
        """``waiting(now)`` in the order of their ids. This class's own read is compiled once per process (the
        simulation's overhead, not the product's: built by the ORM it cost more than the database's answer); a
        subclass that narrows ``waiting`` (the live demo) is read as it says."""
        if type(self).waiting is Simulation.waiting:
            return prepared.instances("demo.analyst_items", _waiting_in_order)
        return list(self.waiting(now).order_by("pk"))

    def police_liaison_works(self, now: datetime) -> None:
        """The police release the hold on the referrals the plan says they release, once they have them. A
        referral they keep holding is looked at once (as a person would), not again on every pass."""
        waiting = [pk for (pk,) in prepared.rows("demo.police_waiting", _police_waiting, now=now)
                   if pk not in self.police_holds]
        if not waiting:
            return
        for referral in Referral.objects.filter(pk__in=waiting).order_by("pk").prefetch_related("items"):
            self.police_holds.add(referral.pk)
            sites = [self.world.site_of_host(item.host) for item in referral.items.all()]
            if sites and all(s is not None and s.release for s in sites):
                record_police_answer(referral, PoliceAnswer.RELEASE, actor=Actor.of_user(self.police), now=now,
                                     note="simulated: no investigative interest in waiting")


def _police_waiting(now: datetime) -> QuerySet[Referral, tuple[int]]:
    return Referral.objects.filter(status=ReferralStatus.SENT, answer=PoliceAnswer.NONE,
                                   hold_until__gt=now).values_list("pk")


def _waiting() -> QuerySet[Item]:
    final = Assessment.objects.filter(item=OuterRef("pk"), is_final=True)
    return Item.objects.filter(status__in=AWAITING_ASSESSMENT, claimed_by__isnull=True).filter(~Exists(final))


def _waiting_in_order() -> QuerySet[Item]:
    return _waiting().order_by("pk")


def fill_result(result: Result) -> None:
    """The end state as counts, and the headline statistics as the statistics pages compute them."""
    def counted(rows: Any, key: str) -> dict[str, int]:
        return {str(row[key]): row["n"] for row in rows.values(key).annotate(n=Count("pk")).order_by(key)}

    result.counts = {
        "item_status": counted(Item.objects, "status"),
        "verdict": counted(Item.objects, "verdict"),
        "route": counted(Decision.objects.current(), "route"),
        "takedown": counted(Takedown.objects, "state"),
        "notice": counted(Notice.objects, "state"),
        "referral": counted(Referral.objects, "status"),
        "forward": counted(Forward.objects, "status"),
        "other": {
            "reports": sum(1 for _ in result.plan.reports), "items": Item.objects.count(),
            "reopened": Item.objects.filter(reopened_at__isnull=False).count(),
            "reuploaded_takedowns": Takedown.objects.filter(reuploads__gt=0).count(),
            "escalated": Takedown.objects.filter(escalation_rung__gt=0).count(),
            "acknowledged": Takedown.objects.filter(acknowledged_at__isnull=False).count(),
            "forwards_acknowledged": Forward.objects.filter(message__state=DeliveryState.DELIVERED).count(),
            "police_released": Referral.objects.filter(answer=PoliceAnswer.RELEASE).count(),
        },
    }
    result.synthetic = synthetic_detection(result.plan)
    scope = Scope(Filters(first=result.start.date(), last=result.end.date()), result.end)
    result.timings = scope.steps[0]
    result.volumes = scope.volumes()


def synthetic_detection(plan: Plan) -> dict[str, int]:
    """Of the captured images the plan made AI-generated, how many the capture flagged from their metadata."""
    marked = {site.host: site.synthetic for site in plan.sites if site.synthetic}
    found = {"captured": 0, "flagged": 0, "with_metadata": 0, "with_metadata_flagged": 0}
    for host, hint in Media.objects.filter(kind="image").values_list("item__host", "ai_hint"):
        if host in marked:
            metadata = marked[host] != "stripped"
            found["captured"] += 1
            found["flagged"] += hint
            found["with_metadata"] += metadata
            found["with_metadata_flagged"] += hint and metadata
    return found


def iccam_counts(sim: Any) -> dict[str, int]:
    """What went through the simulated ICCAM: items pulled, writes accepted by kind, writes accepted twice."""
    from hotline.iccam.models import Content, Push

    counts = sim.write_counts()
    return {"pulled": Content.objects.filter(origin="pulled").count(),
            "created": Content.objects.filter(origin="pushed").count(),
            **{f"push_{state}": n for state, n in Counter(Push.objects.values_list("state", flat=True)).items()},
            **{f"write_{kind}": n for kind, n in Counter(w[0] for w in sim.writes).items()},
            "duplicates": sum(n - 1 for n in counts.values() if n > 1)}


def summary_lines(result: Result) -> list[str]:
    lines = [f"Simulated {result.plan.days} days from {result.start:%Y-%m-%d %H:%M} UTC, seed {result.plan.seed}: "
             f"{len(result.plan.reports)} reports, {len(result.plan.sites)} sites."]
    for name, values in result.counts.items():
        lines.append(f"  {name:<12} " + ", ".join(f"{k or '-'}={v}" for k, v in values.items()))
    lines.append("Headline statistics (from the report's arrival, illegal items):")
    for step, row in result.timings.items():
        lines.append(f"  {step:<8} n={row['n']} reached={row['reached']} median={_hours(row['median'])} "
                     f"p90={_hours(row['p90'])} within 24h={_share(row.get('within_24h'))} "
                     f"3d={_share(row.get('within_3d'))} 7d={_share(row.get('within_7d'))}")
    lines.append("  volumes " + ", ".join(f"{k}={v}" for k, v in result.volumes.items()))
    if result.synthetic.get("captured"):
        ai = result.synthetic
        lines.append(f"AI-generated images captured: {ai['captured']}, flagged from metadata: {ai['flagged']} "
                     f"({ai['flagged'] / ai['captured']:.0%}); of those still carrying metadata: "
                     f"{ai['with_metadata_flagged']}/{ai['with_metadata']}")
    lines.append(f"Wall time: {result.seconds:.1f} s")
    return lines


def _hours(seconds: Any) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}h"


def _share(value: Any) -> str:
    return "-" if value is None else f"{value:.0%}"


def simulate(reports: int = 1000, *, days: int = 60, seed: int = 1, start: datetime | None = None,
             progress: Callable[[str], None] | None = None) -> Result:
    """Plan, build the world, run. Deterministic for a seed (the counts; wall-clock stamps aside)."""
    plan = make_plan(reports, days=days, seed=seed)
    with World(plan) as world:
        return Simulation(plan, world, start=start or default_start(days), progress=progress).run()

