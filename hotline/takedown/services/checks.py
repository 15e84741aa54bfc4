"""What the liveness checks find, applied to the life cycle: count misses, confirm a removal (the item is
closed and partners told), notice a come-back (a re-upload re-opens the item), schedule the next check.
Every change is audited in the same transaction."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import QuerySet

from hotline.audit.services import SYSTEM, Change, record, record_many
from hotline.lib import prepared
from hotline.partners.services import send_status
from hotline.reports.models import ItemStatus
from hotline.takedown import actions, conf
from hotline.takedown.models import Takedown, TakedownState

REUPLOAD_PRIORITY = 4


@dataclass(frozen=True)
class CheckOutcome:
    """One liveness result as the life cycle needs it (see checker.CheckResult)."""

    outcome: str  # hit | miss | transient
    code: str


@transaction.atomic
def record_check(takedown_id: int, result: CheckOutcome, *, now: datetime) -> Takedown:
    """Apply one liveness result: count misses, confirm a removal, notice a come-back, schedule the next."""
    takedown = Takedown.objects.select_for_update().select_related("item").get(pk=takedown_id)
    _apply(takedown, result, now)
    return takedown


def record_checks(results: Sequence[tuple[int, CheckOutcome]], *, now: datetime) -> None:
    """``record_check`` of several results in one transaction: the takedowns and their items read (and locked,
    as ``record_check`` locks them) in one query compiled once per power of two of the batch, then each result
    applied in order with its own saves and audit events, the same as ``record_check`` writes. Any failure rolls
    the whole batch back and raises (the caller records them one by one then)."""
    if not results:
        return
    with transaction.atomic():
        ids = [takedown_id for takedown_id, _ in results]
        found = {row.pk: row for row in prepared.instances("takedown.record_checks", _locked, ids=prepared.padded(ids))}
        for takedown_id, result in results:
            takedown = found.get(takedown_id)
            if takedown is None:
                raise Takedown.DoesNotExist(f"takedown {takedown_id} does not exist")
            _apply(takedown, result, now)


def _locked(ids: list[int]) -> QuerySet[Takedown]:
    """``record_check``'s read for several takedowns, in id order (the order rows are locked in)."""
    return Takedown.objects.select_for_update().select_related("item").filter(pk__in=ids).order_by("pk")


def _apply(takedown: Takedown, result: CheckOutcome, now: datetime) -> None:
    takedown.last_check_at, takedown.checks = now, takedown.checks + 1
    takedown.last_check_outcome = f"{result.outcome}:{result.code}"[:40]
    fields = ["last_check_at", "checks", "last_check_outcome", "next_check_at"]
    if result.outcome == "hit":
        fields += _on_hit(takedown, result, now)
    elif result.outcome == "miss":
        fields += _on_miss(takedown, result, now)
    takedown.next_check_at = next_check_time(takedown, now)
    _save(takedown, sorted(set(fields)))


def _save(takedown: Takedown, fields: list[str]) -> None:
    """``takedown.save(update_fields=fields)`` (no signal receivers on Takedown) as an UPDATE compiled once per
    set of fields and of those that are None: an outcome's save cost more to build than to run."""
    values = {name: getattr(takedown, name) for name in fields}
    nulls = tuple(name for name, value in values.items() if value is None)
    given = {name: value for name, value in values.items() if value is not None}
    if not prepared.update("takedown.check_recorded", functools.partial(_recorded, nulls), vary=(tuple(fields), nulls),
                           pk=takedown.pk, **given):
        raise DatabaseError("Save with update_fields did not affect any rows.")


def _recorded(nulls: tuple[str, ...], pk: int, **given: Any) -> tuple[QuerySet[Takedown], dict[str, Any]]:
    return Takedown.objects.filter(pk=pk), {**given, **dict.fromkeys(nulls)}


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
