"""Liveness: claim due checks, run them concurrently (per-host politeness), record the results.

1. claim up to HOTLINE_TAKEDOWN_CHECK_BATCH due takedowns by moving their ``next_check_at`` one lease ahead
   (SKIP LOCKED on PostgreSQL; SQLite's IMMEDIATE transactions serialise the claim);
2. load what was captured for those items (media URLs and SHA-256) and check them, with no transaction open;
3. record: a plain "still there" on an online item is bookkeeping and goes in one bulk UPDATE; anything that
   moves the life cycle (a miss, a removal, a come-back) goes through ``record_check`` with its audit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.assessment.models import MediaAssessment
from hotline.audit.services import SYSTEM, Change, record, record_many
from hotline.evidence.models import Media
from hotline.lib import claim
from hotline.lib.http import FetchPolicy, Resolver, policy_from_settings
from hotline.partners.services import send_status
from hotline.reports.models import ItemStatus
from hotline.takedown import actions, conf
from hotline.takedown.checker import HIT, Checker, CheckResult, HostLimiter, Target
from hotline.takedown.models import Takedown, TakedownState

log = logging.getLogger("hotline.takedown")
CHECK_LEASE = timedelta(minutes=10)
QUIET_STATES = (TakedownState.ONLINE, TakedownState.REAPPEARED)
REUPLOAD_PRIORITY = 4


@dataclass(frozen=True)
class LivenessConfig:
    policy: FetchPolicy
    resolver: Resolver | None = None
    concurrency: int = 32
    per_host: int = 2
    batch: int = 500
    #: Another checker (benches: the simulated web answered in memory); None = the safe fetcher's.
    checker: Checker | None = None


def config_from_settings() -> LivenessConfig:
    return LivenessConfig(
        policy=policy_from_settings(), concurrency=settings.HOTLINE_TAKEDOWN_CHECK_CONCURRENCY,
        per_host=settings.HOTLINE_TAKEDOWN_CHECK_PER_HOST, batch=settings.HOTLINE_TAKEDOWN_CHECK_BATCH)


@dataclass(frozen=True)
class _Claimed:
    takedown: Takedown
    url: str


def check_due(*, now: datetime, config: LivenessConfig) -> bool:
    """Check one batch of due items and record the results (``liveness_step``). Returns whether there were any."""
    claimed = claim_checks(now, config.batch)
    if not claimed:
        return False
    checker = config.checker or Checker(config.policy, config.resolver, HostLimiter(config.per_host))
    results = checker.check_many(_targets(claimed), concurrency=config.concurrency)
    by_key = {entry.takedown.pk: entry.takedown for entry in claimed}
    record_results([(by_key[target.key], result) for target, result in results], now=now)
    return True


def claim_checks(now: datetime, limit: int) -> list[_Claimed]:
    with transaction.atomic():
        due = Takedown.objects.check_due(now).order_by("next_check_at", "pk")
        rows = list(claim.skip_locked(due, of=("self",)).select_related("item").only(
            "pk", "state", "checks", "consecutive_misses", "first_notice_at", "opened_at", "removal_confirmed_at",
            "item", "item__canonical_url")[:limit])
        Takedown.objects.filter(pk__in=[row.pk for row in rows]).update(next_check_at=now + CHECK_LEASE)
    return [_Claimed(row, row.item.canonical_url) for row in rows]


def _targets(claimed: list[_Claimed]) -> list[Target]:
    media: dict[int, dict[str, str]] = defaultdict(dict)
    item_ids = {entry.takedown.item_id: entry.takedown.pk for entry in claimed}
    # A file classified not illegal (a banner beside the illegal image) says nothing about removal.
    legal = MediaAssessment.objects.final().filter(media__item_id__in=list(item_ids)).exclude(
        verdict__in=ILLEGAL_VERDICTS).values("media_id")
    rows = (Media.objects.filter(item_id__in=list(item_ids), is_bad=False).exclude(sha256="").exclude(pk__in=legal)
            .values_list("item_id", "url", "sha256"))
    for item_id, url, sha256 in rows:
        media[item_id][url] = sha256
    return [Target(entry.takedown.pk, entry.url, media.get(entry.takedown.item_id, {})) for entry in claimed]


def record_results(results: list[tuple[Takedown, CheckResult]], *, now: datetime) -> None:
    """Record the quiet hits in a few UPDATEs (grouped by outcome and next check); every other result goes
    through the audited service, one by one, so a failing row never loses the rest of the batch."""
    quiet: dict[tuple[str, datetime | None], list[int]] = defaultdict(list)
    for takedown, result in results:
        if result.outcome == HIT and takedown.state in QUIET_STATES and takedown.consecutive_misses == 0:
            outcome = f"{result.outcome}:{result.code}"[:40]
            quiet[(outcome, next_check_time(takedown, now))].append(takedown.pk)
            continue
        try:
            record_check(takedown.pk, CheckOutcome(result.outcome, result.code), now=now)
        except Exception:
            log.exception("recording the check of takedown %s failed", takedown.pk)
            Takedown.objects.filter(pk=takedown.pk).update(next_check_at=now + CHECK_LEASE)
    for (outcome, next_at), pks in quiet.items():
        Takedown.objects.filter(pk__in=pks).update(
            last_check_at=now, last_check_outcome=outcome, checks=F("checks") + 1, next_check_at=next_at)


# ------------------------------------------------------------------ what the checker finds


@dataclass(frozen=True)
class CheckOutcome:
    """One liveness result as the life cycle needs it (see checker.CheckResult)."""

    outcome: str  # hit | miss | transient
    code: str


@transaction.atomic
def record_check(takedown_id: int, result: CheckOutcome, *, now: datetime) -> Takedown:
    """Apply one liveness result: count misses, confirm a removal, notice a come-back, schedule the next."""
    takedown = Takedown.objects.select_for_update().select_related("item").get(pk=takedown_id)
    takedown.last_check_at, takedown.checks = now, takedown.checks + 1
    takedown.last_check_outcome = f"{result.outcome}:{result.code}"[:40]
    fields = ["last_check_at", "checks", "last_check_outcome", "next_check_at"]
    if result.outcome == "hit":
        fields += _on_hit(takedown, result, now)
    elif result.outcome == "miss":
        fields += _on_miss(takedown, result, now)
    takedown.next_check_at = next_check_time(takedown, now)
    takedown.save(update_fields=sorted(set(fields)))
    return takedown


def _on_hit(takedown: Takedown, result: CheckOutcome, now: datetime) -> list[str]:
    fields = ["consecutive_misses"]
    if takedown.state == TakedownState.REMOVED:
        return [*fields, *_reappeared(takedown, now)]
    if takedown.state == TakedownState.REMOVAL_PENDING:
        fields += takedown.transition(TakedownState.ONLINE, now=now)
        fields += ["first_miss_at", "next_notice_at"]
        record(SYSTEM, actions.STILL_ONLINE, takedown.item, now=now,
               after={"misses_before": takedown.consecutive_misses, "code": result.code})
        takedown.first_miss_at = None
        takedown.next_notice_at = takedown.next_notice_at or now
    takedown.consecutive_misses = 0
    return fields


def _on_miss(takedown: Takedown, result: CheckOutcome, now: datetime) -> list[str]:
    if takedown.state == TakedownState.REMOVED:
        return []
    fields = ["consecutive_misses", "last_miss_at", "first_miss_at"]
    if takedown.state != TakedownState.REMOVAL_PENDING:
        fields += takedown.transition(TakedownState.REMOVAL_PENDING, now=now)
        takedown.consecutive_misses, takedown.first_miss_at = 0, now
    elif takedown.last_miss_at is not None and now - takedown.last_miss_at < conf.miss_interval():
        return []  # too soon after the previous miss to count as another
    takedown.consecutive_misses += 1
    takedown.last_miss_at = now
    record(SYSTEM, actions.MISS, takedown.item, now=now,
           after={"miss": takedown.consecutive_misses, "code": result.code})
    if takedown.consecutive_misses >= settings.HOTLINE_TAKEDOWN_MISSES:
        fields += _removed(takedown, now)
    return fields


def _removed(takedown: Takedown, now: datetime) -> list[str]:
    fields = takedown.transition(TakedownState.REMOVED, now=now)
    takedown.removed_at = takedown.first_miss_at or now
    takedown.first_removed_at = takedown.first_removed_at or takedown.removed_at
    takedown.removal_confirmed_at = now
    takedown.next_notice_at = takedown.next_escalation_at = None
    item = takedown.item
    record(SYSTEM, actions.REMOVED, item, now=now, after={
        "removed_at": takedown.removed_at.isoformat(), "misses": takedown.consecutive_misses})
    if item.status == ItemStatus.ASSESSED:
        item.save(update_fields=item.transition(ItemStatus.CLOSED, now=now))
        record(SYSTEM, actions.ITEM_CLOSED, item, now=now, after={"reason": "removal confirmed"})
    send_status(item, "removed", now=now)  # to every partner hotline that forwarded the item
    return [*fields, "removed_at", "first_removed_at", "removal_confirmed_at", "next_notice_at", "next_escalation_at"]


def _reappeared(takedown: Takedown, now: datetime) -> list[str]:
    """The content is back after a confirmed removal: re-open the item, flag a re-upload, notify again."""
    fields = takedown.transition(TakedownState.REAPPEARED, now=now)
    takedown.reappeared_at, takedown.reuploads = now, takedown.reuploads + 1
    takedown.first_miss_at = takedown.last_miss_at = None
    takedown.next_notice_at, takedown.next_escalation_at = now, now
    takedown.consecutive_misses = 0
    item = takedown.item
    changes = [Change(actions.REAPPEARED, item, after={"reuploads": takedown.reuploads,
                                                          "removed_at": _iso(takedown.removed_at)})]
    if item.status == ItemStatus.CLOSED:
        # The liveness check found the captured media again (by hash): the verdict stands and needs no second
        # assessment (one final assessment per item); the item is open again for the takedown.
        item_fields = item.transition(ItemStatus.ASSESSED, now=now)
        item.priority = max(item.priority, REUPLOAD_PRIORITY)
        item.save(update_fields=[*item_fields, "priority"])
        changes.append(Change(actions.ITEM_REOPENED, item, after={"reason": "re-upload after removal"}))
    record_many(SYSTEM, changes, now=now)
    return [*fields, "reappeared_at", "reuploads", "first_miss_at", "last_miss_at", "next_notice_at",
            "next_escalation_at"]


def next_check_time(takedown: Takedown, now: datetime) -> datetime | None:
    """The liveness rhythm by the age of the first notice: every 15 minutes in the first hour, hourly in the
    first day, then daily (every later notice adds one early check, see sending); spaced misses while a
    removal is being confirmed; a daily watch for re-uploads after removal, for HOTLINE_TAKEDOWN_WATCH_DAYS."""
    steps = conf.schedule()
    if takedown.state == TakedownState.REMOVED:
        confirmed = takedown.removal_confirmed_at or now
        watch_ends = confirmed + timedelta(days=settings.HOTLINE_TAKEDOWN_WATCH_DAYS)
        return None if now >= watch_ends else min(now + steps[-1][1], watch_ends)
    if takedown.state == TakedownState.REMOVAL_PENDING:
        return now + max(conf.miss_interval(), timedelta(minutes=1))
    age = now - (takedown.first_notice_at or takedown.opened_at)
    for up_to_hours, every in steps:
        if up_to_hours is None or age < timedelta(hours=up_to_hours):
            return now + every
    return now + steps[-1][1]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
