"""Compute and refresh item facts from the other domains' time stamps and trace snapshots.

Everything here reads rows in bulk for a set of item ids (one query per source table) and writes the
facts with one upsert, so a refresh of a million items is a few hundred round trips, not millions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q

from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.partners.models import Forward
from hotline.reports.models import Item, ReportItem
from hotline.routing.models import Decision, Referral
from hotline.stats.models import ItemFact, RefreshState
from hotline.takedown.models import Takedown, TakedownState
from hotline.tracing.models import Trace, TraceOutcome

# Items per round of source queries (an id list this long stays cheap; a dense run becomes a range).
CHUNK = 2000
UPDATE_FIELDS = [f.name for f in ItemFact._meta.concrete_fields if not f.primary_key]


def _secs(start: datetime, end: datetime | None) -> int | None:
    """Whole seconds from ``start`` to ``end``; a stamp before the start (another party's clock) counts as 0."""
    if end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def _earliest(*stamps: datetime | None) -> datetime | None:
    present = [s for s in stamps if s is not None]
    return min(present) if present else None


@dataclass
class _Sources:
    """The rows of every source table for one chunk of items, keyed by item id."""

    items: dict[int, tuple[datetime, str]]
    first_report: dict[int, tuple[datetime, int, str]]
    assessment: dict[int, tuple[str, str, str, str]]
    trace: dict[int, tuple[str, int | None]]
    route: dict[int, str]
    police: dict[int, datetime]
    # state, provider, first notice, acknowledged, first removal, latest removal, re-uploads
    takedown: dict[int, tuple[str, int | None, datetime | None, datetime | None, datetime | None, datetime | None,
                              int]]
    forward: dict[int, tuple[datetime | None, datetime | None]]
    reupload: set[int]
    illegal_media: dict[int, int]


def _within(field: str, ids: Sequence[int]) -> dict[str, Any]:
    """Lookup for "``field`` is one of ``ids``": a range when the ids are a sorted, dense run (a full refresh
    walks the table by id), which is much cheaper than a long IN list; rows of other items are ignored."""
    if ids and list(ids) == sorted(ids) and ids[-1] - ids[0] < 2 * len(ids):
        return {f"{field}__gte": ids[0], f"{field}__lte": ids[-1]}
    return {f"{field}__in": ids}


def _first_reports(ids: Sequence[int]) -> dict[int, tuple[datetime, int, str]]:
    found: dict[int, tuple[datetime, int, str]] = {}
    for item_id, received, report_id, source in ReportItem.objects.filter(**_within("item_id", ids)).values_list(
            "item_id", "report__received_at", "report_id", "report__source"):
        if item_id not in found or (received, report_id) < found[item_id][:2]:
            found[item_id] = (received, report_id, source)
    return found


def _latest_traces(ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
    found: dict[int, tuple[str, int | None]] = {}
    located = Trace.objects.filter(outcome=TraceOutcome.OK, **_within("item_id", ids)).order_by(
        "item_id", "traced_at", "pk")
    for item_id, country, provider_id in located.values_list("item_id", "country", "provider_id"):
        found[item_id] = (country, provider_id)  # ordered: the latest wins
    return found


def _load(ids: Sequence[int]) -> _Sources:
    of_items = _within("item_id", ids)
    referrals = Referral.items.through.objects.filter(referral__sent_at__isnull=False, **of_items)
    forwards = Forward.objects.filter(**of_items).values("item_id").annotate(
        notice=Min("notice_sent_at"), removed=Min("removed_at"))
    return _Sources(
        items={pk: (first, verdict) for pk, first, verdict in
               Item.objects.filter(**_within("pk", ids)).values_list("pk", "first_reported_at", "verdict")},
        first_report=_first_reports(ids),
        assessment={row[0]: row[1:] for row in Assessment.objects.filter(is_final=True, **of_items).values_list(
            "item_id", "verdict", "content_type", "age_group", "site_type")},
        trace=_latest_traces(ids),
        route=dict(Decision.objects.filter(superseded_at__isnull=True, **of_items).values_list("item_id", "route")),
        police={row["item_id"]: row["first"] for row in
                referrals.values("item_id").annotate(first=Min("referral__sent_at"))},
        takedown={row[0]: row[1:] for row in Takedown.objects.filter(**of_items).values_list(
            "item_id", "state", "provider_id", "first_notice_at", "acknowledged_at", "first_removed_at", "removed_at",
            "reuploads")},
        forward={row["item_id"]: (row["notice"], row["removed"]) for row in forwards},
        reupload=set(Item.reupload_of.through.objects.filter(**_within("from_item_id", ids)).values_list(
            "from_item_id", flat=True)),
        illegal_media=_illegal_media(ids),
    )


def _illegal_media(ids: Sequence[int]) -> dict[int, int]:
    rows = (MediaAssessment.objects.final().filter(verdict__in=ILLEGAL_VERDICTS, **_within("assessment__item_id", ids))
            .values("assessment__item_id").annotate(n=Count("media__sha256", distinct=True)).order_by())
    return {row["assessment__item_id"]: row["n"] for row in rows}


def _fact(pk: int, src: _Sources, now: datetime) -> ItemFact:
    first_reported, item_verdict = src.items[pk]
    report = src.first_report.get(pk)
    start = min(first_reported, report[0]) if report else first_reported
    verdict, content_type, age_group, site_type = src.assessment.get(pk, (item_verdict, "", "", ""))
    country, provider_id = src.trace.get(pk, ("", None))
    state, noticed_provider, first_notice, acked, first_removed, removed, reappearances = src.takedown.get(
        pk, ("", None, None, None, None, None, 0))
    # Time to removal is measured to the first confirmed removal, as the takedown timings and the provider
    # scorecards measure it; content that came back since is "online again" (the long tail counts it).
    our_removal = first_removed or (removed if state == TakedownState.REMOVED else None)
    online_again = first_removed is not None and state != TakedownState.REMOVED
    partner_notice, partner_removal = src.forward.get(pk, (None, None))
    removal = _earliest(our_removal, partner_removal)
    return ItemFact(
        item_id=pk, reported_at=start, source=report[2] if report else "", verdict=verdict or "",
        illegal=verdict in ILLEGAL_VERDICTS, content_type=content_type, age_group=age_group, site_type=site_type,
        country=country or "", provider_id=provider_id, route=src.route.get(pk, ""), forwarded=pk in src.forward,
        in_takedown=pk in src.takedown, reupload=pk in src.reupload, reappearances=reappearances,
        online_again=online_again, illegal_media=src.illegal_media.get(pk, 0),
        police_secs=_secs(start, src.police.get(pk)),
        notice_secs=_secs(start, _earliest(first_notice, partner_notice)),
        removal_secs=_secs(start, removal),
        noticed_provider_id=noticed_provider if first_notice is not None else None, first_notice_at=first_notice,
        notice_ack_secs=_secs(first_notice, acked) if first_notice else None,
        notice_removal_secs=_secs(first_notice, removal) if first_notice else None,
        refreshed_at=now,
    )


def compute(ids: Iterable[int], *, now: datetime) -> list[ItemFact]:
    """The facts of the items ``ids`` (unsaved); ids of items that no longer exist are skipped."""
    found: list[ItemFact] = []
    wanted = list(ids)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        sources = _load(chunk)
        found += [_fact(pk, sources, now) for pk in chunk if pk in sources.items]
    return found


def _store(facts: list[ItemFact]) -> None:
    """Upsert ``facts``. On PostgreSQL through COPY into a temporary table (Django's per-value preparation
    of a bulk insert costs more than the database work); elsewhere with a bulk upsert."""
    if connection.vendor != "postgresql":
        ItemFact.objects.bulk_create(facts, batch_size=500, update_conflicts=True, unique_fields=["item"],
                                     update_fields=UPDATE_FIELDS)
        return
    fields = ItemFact._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)
    updates = ", ".join(f'"{f.column}" = EXCLUDED."{f.column}"' for f in fields if not f.primary_key)
    table = ItemFact._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # Dropped first: inside an outer transaction the previous call's table is still there.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.stats_fact_load")
        cursor.execute(f'CREATE TEMPORARY TABLE stats_fact_load (LIKE "{table}") ON COMMIT DROP')
        with cursor.cursor.copy(f"COPY stats_fact_load ({columns}) FROM STDIN") as copy:
            for fact in facts:
                copy.write_row([getattr(fact, f.attname) for f in fields])
        upsert = (f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM stats_fact_load '  # noqa: S608
                  f'ON CONFLICT ("item_id") DO UPDATE SET {updates}')  # names from the model, no input
        cursor.execute(upsert)


def refresh_items(ids: Iterable[int], *, now: datetime) -> int:
    """Recompute and store the facts of ``ids``; returns how many were written."""
    facts = compute(ids, now=now)
    _store(facts)
    return len(facts)


def refresh_all(*, now: datetime, since: datetime | None = None, chunk: int = 5000) -> int:
    """Recompute every fact (or those of items first reported since ``since``), walking the items by id."""
    items = Item.objects.order_by("pk")
    if since is not None:
        items = items.filter(Q(first_reported_at__gte=since) | Q(links__report__received_at__gte=since)).distinct()
    done, last = 0, 0
    while True:
        ids = list(items.filter(pk__gt=last).values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        done += refresh_items(ids, now=now)
        last = ids[-1]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:  # after a bulk rewrite the planner needs the new size
            cursor.execute(f'ANALYZE "{ItemFact._meta.db_table}"')
    return done


# ------------------------------------------------------------------ the worker step


def _claim(now: datetime) -> datetime | None:
    """Lease the refresh for this worker: a conditional UPDATE that must hit the one row. Returns the lease end."""
    RefreshState.objects.get_or_create(pk=1, defaults={"next_run_at": now})
    lease = now + timedelta(minutes=10)
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    due = Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)
    hit = RefreshState.objects.filter(free, due, pk=1).update(lease_until=lease)
    return lease if hit == 1 else None


def _stale(now: datetime, limit: int) -> list[int]:
    """New items without facts first, then the facts older than HOTLINE_STATS_MAX_AGE_MINUTES, oldest first."""
    ids = list(Item.objects.filter(stats_fact__isnull=True).order_by("pk").values_list("pk", flat=True)[:limit])
    if len(ids) < limit:
        cutoff = now - timedelta(minutes=settings.HOTLINE_STATS_MAX_AGE_MINUTES)
        ids += list(ItemFact.objects.filter(refreshed_at__lt=cutoff).order_by("refreshed_at", "item_id")
                    .values_list("item_id", flat=True)[:limit - len(ids)])
    return ids


def _release(lease: datetime, *, next_run_at: datetime, now: datetime, refreshed: int | None) -> None:
    values: dict[str, Any] = {"lease_until": None, "next_run_at": next_run_at}
    if refreshed is not None:
        values.update(last_finished_at=now, last_refreshed=refreshed)
    RefreshState.objects.filter(pk=1, lease_until=lease).update(**values)


def refresh_batch(*, now: datetime) -> bool:
    """Refresh one batch of missing or stale facts (the worker's ``steps.refresh_step``). True when there may
    be more to do.

    1. Claim the single schedule row (another worker holding it, or the pause not over: nothing to do).
    2. Pick the items without facts, then the stalest facts, up to HOTLINE_STATS_BATCH.
    3. Recompute and upsert them in one transaction (a recompute is idempotent: a second worker doing
       the same rows would write the same values).
    4. Release: run again at once after a full batch, else after HOTLINE_STATS_PAUSE_SECONDS. On an
       error the next run is pushed back before the error is re-raised.
    """
    lease = _claim(now)
    if lease is None:
        return False
    limit = settings.HOTLINE_STATS_BATCH
    try:
        ids = _stale(now, limit)
        with transaction.atomic():
            refreshed = refresh_items(ids, now=now)
    except Exception:
        _release(lease, next_run_at=now + timedelta(minutes=5), now=now, refreshed=None)
        raise
    more = len(ids) >= limit
    pause = timedelta(seconds=0 if more else settings.HOTLINE_STATS_PAUSE_SECONDS)
    _release(lease, next_run_at=now + pause, now=now, refreshed=refreshed)
    return more
