"""Liveness: claim due checks, run them concurrently (per-host politeness), record the results.

1. claim up to HOTLINE_TAKEDOWN_CHECK_BATCH due takedowns by moving their ``next_check_at`` one lease ahead
   (SKIP LOCKED on PostgreSQL; SQLite's IMMEDIATE transactions serialise the claim);
2. load what was captured for those items (media URLs and SHA-256) and check them, with no transaction open;
3. record: a plain "still there" on an online item is bookkeeping and goes in one bulk UPDATE; anything that
   moves the life cycle (a miss, a removal, a come-back) goes through ``record_check`` with its audit (the
   batch's together in one transaction, ``record_checks``; one by one should that fail).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Field, QuerySet, Value, When
from django.db.models.functions import Cast

from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.assessment.models import MediaAssessment
from hotline.evidence.models import Media
from hotline.lib import claim, prepared
from hotline.lib.http import FetchPolicy, Resolver, policy_from_settings
from hotline.takedown.checker import HIT, Checker, CheckResult, HostLimiter, Target
from hotline.takedown.models import Takedown, TakedownState
from hotline.takedown.services.checks import CheckOutcome, next_check_time, record_check, record_checks

log = logging.getLogger("hotline.takedown")
CHECK_LEASE = timedelta(minutes=10)
QUIET_STATES = (TakedownState.ONLINE, TakedownState.REAPPEARED)


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
    """Lease up to ``limit`` due checks; none, and no write transaction opened, when a probe compiled once
    says none is due. The read and the lease are compiled once per process (per ``limit``, per power of two of
    the rows leased): a busy call's claim cost more to build than to run."""
    if not prepared.any_row("takedown.check_due", Takedown.objects.check_due, now=now):
        return []
    with transaction.atomic():
        rows = prepared.objects("takedown.claim_checks", lambda now: _due_checks(now)[:limit], vary=limit, now=now)
        if rows:
            prepared.update("takedown.check_lease", _lease, pks=prepared.padded([row.pk for row in rows]),
                            until=now + CHECK_LEASE)
    return [_Claimed(row, row.item_url) for row in rows]


def _due_checks(now: datetime) -> QuerySet[Takedown]:
    """The due checks in order, locked (PostgreSQL), with what deciding the next check needs and the item's URL."""
    due = Takedown.objects.check_due(now).order_by("next_check_at", "pk")
    return claim.skip_locked(due, of=("self",)).annotate(item_url=F("item__canonical_url")).only(
        "pk", "state", "checks", "consecutive_misses", "first_notice_at", "opened_at", "removal_confirmed_at", "item")


def _lease(pks: list[int], until: datetime) -> tuple[QuerySet[Takedown], dict[str, Any]]:
    return Takedown.objects.filter(pk__in=pks), {"next_check_at": until}


def captured_files(item_ids: list[int]) -> QuerySet[Media, tuple[int, str, str]]:
    """(item id, URL, SHA-256) of what was captured for these items and can tell whether it is still there.
    A file classified not illegal (a banner beside the illegal image) says nothing about removal."""
    legal = MediaAssessment.objects.final().filter(media__item_id__in=item_ids).exclude(
        verdict__in=ILLEGAL_VERDICTS).values("media_id")
    return (Media.objects.filter(item_id__in=item_ids, is_bad=False).exclude(sha256="").exclude(pk__in=legal)
            .values_list("item_id", "url", "sha256"))


def _targets(claimed: list[_Claimed]) -> list[Target]:
    media: dict[int, dict[str, str]] = defaultdict(dict)
    # Compiled once per power of two of the batch size (a busy call's query cost more to build than to run).
    rows = prepared.rows("takedown.captured_files", captured_files,
                         item_ids=prepared.padded([entry.takedown.item_id for entry in claimed]))
    for item_id, url, sha256 in rows:
        media[item_id][url] = sha256
    return [Target(entry.takedown.pk, entry.url, media.get(entry.takedown.item_id, {})) for entry in claimed]


def record_results(results: list[tuple[Takedown, CheckResult]], *, now: datetime) -> None:
    """Record the quiet hits with one UPDATE (each row's outcome and next check in a CASE); every other result
    goes through the audited service (``record_checks``: the batch in one transaction, each result as
    ``record_check`` records it); should the batch fail, one by one, so a failing row never loses the rest."""
    quiet: dict[int, tuple[str, datetime]] = {}
    ended: list[tuple[int, str]] = []
    audited: list[tuple[int, CheckOutcome]] = []
    for takedown, result in results:
        if result.outcome == HIT and takedown.state in QUIET_STATES and takedown.consecutive_misses == 0:
            outcome = f"{result.outcome}:{result.code}"[:40]
            next_at = next_check_time(takedown, now)
            if next_at is None:  # no further check (not for the quiet states' rhythm, kept for safety)
                ended.append((takedown.pk, outcome))
            else:
                quiet[takedown.pk] = (outcome, next_at)
        else:
            audited.append((takedown.pk, CheckOutcome(result.outcome, result.code)))
    _record_audited(audited, now=now)
    if quiet:  # compiled once per power of two of the rows: its CASEs cost more to build than to run
        rows = prepared.to_power_of_two(list(quiet.items()))
        prepared.update("takedown.quiet_hits", _quiet_hits, pks=[pk for pk, _ in rows], now=now,
                        outcomes=[outcome for _, (outcome, _) in rows], next_ats=[at for _, (_, at) in rows])
    for pk, outcome in ended:
        Takedown.objects.filter(pk=pk).update(last_check_at=now, last_check_outcome=outcome, checks=F("checks") + 1,
                                              next_check_at=None)


def _record_audited(audited: list[tuple[int, CheckOutcome]], *, now: datetime) -> None:
    try:
        record_checks(audited, now=now)
        return
    except Exception:
        if len(audited) == 1:  # nothing else to save from the batch: as one by one below, without trying twice
            log.exception("recording the check of takedown %s failed", audited[0][0])
            Takedown.objects.filter(pk=audited[0][0]).update(next_check_at=now + CHECK_LEASE)
            return
        log.exception("recording %d checks together failed: recording them one by one", len(audited))
    for takedown_id, outcome in audited:
        try:
            record_check(takedown_id, outcome, now=now)
        except Exception:
            log.exception("recording the check of takedown %s failed", takedown_id)
            Takedown.objects.filter(pk=takedown_id).update(next_check_at=now + CHECK_LEASE)


def _quiet_hits(pks: list[int], now: datetime, outcomes: list[str],
                next_ats: list[datetime]) -> tuple[QuerySet[Takedown], dict[str, Any]]:
    """The quiet hits' UPDATE: ``checks + 1`` and the check's time for all, each row's outcome and next check."""
    return Takedown.objects.filter(pk__in=pks), {
        "last_check_at": now, "checks": F("checks") + 1,
        "last_check_outcome": _each(pks, outcomes, "last_check_outcome"),
        "next_check_at": _each(pks, next_ats, "next_check_at")}


def _each(pks: list[int], values: list[Any], name: str) -> Any:
    """A column's value per row (``CASE id WHEN … THEN …``), as ``bulk_update`` writes it."""
    field = Takedown._meta.get_field(name)
    assert isinstance(field, Field)
    case: Any = Case(*[When(pk=pk, then=Value(value, output_field=field))
                       for pk, value in zip(pks, values, strict=True)], output_field=field)
    return Cast(case, output_field=field) if connection.features.requires_casted_case_in_updates else case
