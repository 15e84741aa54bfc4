"""Retention verbs: legal holds, purging due data class by class (the worker step's work and the command), the plan.

Purging is claimed per class with a lease (a conditional UPDATE on ``Schedule`` that must hit one
row), and each batch locks its rows (``SKIP LOCKED`` on PostgreSQL) and re-checks that they are
still due, so no two workers ever purge the same rows. One batch is one transaction: the data,
the purge markers and the audit event commit together; blob files go only after the commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from hotline.accounts.models import Role, User
from hotline.audit.services import SYSTEM, Actor, record
from hotline.retention import actions, registry
from hotline.retention.access import holdable, visible_holds
from hotline.retention.conf import describe
from hotline.retention.models import Hold, HoldTarget, Schedule
from hotline.retention.policy import START, Policy, PurgeResult

LEASE = timedelta(minutes=15)
RUN_EVERY = timedelta(days=1)
RETRY_AFTER = timedelta(hours=1)
HOLD_ROLES = (Role.POLICE_LIAISON, Role.ADMIN)
MAX_REASON = 2000
_AUDIT_TYPES: dict[str, str] = {HoldTarget.ITEM: "reports.item", HoldTarget.CASE: "cases.case"}


class HoldError(ValueError):
    """A hold that cannot be placed or released; the message names the field."""


class RetentionBusy(Exception):
    """Another worker holds the lease of this class right now."""


# ---------------------------------------------------------------- legal holds

@transaction.atomic
def place_hold(object_type: str, object_id: int, *, reason: str, user: User, now: datetime | None = None) -> Hold:
    """Hold an item or a case ``user`` may see: from now on every purge skips its data, until released."""
    now = now or timezone.now()
    reason = _checked_reason(reason, field_name="reason")
    if not user.has_role(*HOLD_ROLES):
        raise HoldError("user: only a police liaison or an administrator may place a hold")
    if object_type not in HoldTarget.values:
        raise HoldError(f"object_type: {object_type!r} cannot be held (items or cases)")
    # One answer for missing and invisible objects: a refusal must not say which numbers exist.
    if not holdable(user, object_type).filter(pk=object_id).exists():
        raise HoldError(f"object_id: there is no {object_type} {object_id} you may see")
    hold = Hold.objects.create(object_type=object_type, object_id=object_id, reason=reason, placed_by=user,
                               placed_at=now)
    record(Actor.of_user(user), actions.HOLD_PLACED, (_AUDIT_TYPES[object_type], object_id), now=now,
           after={"hold": hold.pk, "reason": reason})
    return hold


@transaction.atomic
def release_hold(hold: Hold, *, user: User, reason: str, now: datetime | None = None) -> Hold:
    """Release (never delete) a hold on an object ``user`` may see; purges resume at their next run."""
    now = now or timezone.now()
    reason = _checked_reason(reason, field_name="release_reason")
    if not user.has_role(*HOLD_ROLES):
        raise HoldError("user: only a police liaison or an administrator may release a hold")
    if not visible_holds(user).filter(pk=hold.pk).exists():
        raise HoldError(f"hold: there is no hold {hold.pk} you may see")
    released = Hold.objects.filter(pk=hold.pk, released_at__isnull=True).update(
        released_at=now, released_by=user, release_reason=reason)
    if released != 1:
        raise HoldError(f"hold: hold {hold.pk} is already released")
    hold.refresh_from_db()
    record(Actor.of_user(user), actions.HOLD_RELEASED, (_AUDIT_TYPES[hold.object_type], hold.object_id),
           now=now, after={"hold": hold.pk, "reason": reason, "placed_at": hold.placed_at.isoformat()})
    return hold


def _checked_reason(reason: str, *, field_name: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise HoldError(f"{field_name}: a reason is required")
    if len(reason) > MAX_REASON:
        raise HoldError(f"{field_name}: at most {MAX_REASON} characters")
    return reason


def active_holds_on(object_type: str, object_id: int) -> list[Hold]:
    return list(Hold.objects.active().filter(object_type=object_type, object_id=object_id).order_by("placed_at"))


# ---------------------------------------------------------------- purging

def batch_size() -> int:
    return int(getattr(settings, "HOTLINE_RETENTION_BATCH", 500))


def purge_batch(policy: Policy, *, now: datetime, limit: int) -> tuple[PurgeResult, bool]:
    """Purge up to ``limit`` due rows of ``policy`` in one transaction; return (result, more may remain).

    1. read due ids; 2. in the transaction, lock them and keep those still due (a concurrent worker
    or a hold placed meanwhile drops rows here); 3. purge and audit; 4. commit (then files go).
    """
    if not policy.destructive:
        return _report_age(policy, now), False
    ids = list(policy.due(now).values_list("pk", flat=True)[:limit])
    if not ids:
        return PurgeResult(data_class=policy.name), False
    with transaction.atomic():
        result = policy.purge(policy.lock(ids, now), now=now)
        if result.count:
            record(SYSTEM, actions.PURGED, ("retention.class", policy.name), now=now, after=result.audit())
    # A full batch may have more behind it; a batch that purged nothing (rows locked elsewhere) stops.
    return result, len(ids) == limit and result.count > 0


def _report_age(policy: Policy, now: datetime) -> PurgeResult:
    """A class that destroys nothing (audit events): record how many rows passed its age, if any."""
    old = policy.due(now)
    count = old.count()
    if count:
        oldest = old.order_by(START).values_list(START, flat=True).first()
        with transaction.atomic():
            record(SYSTEM, actions.AGE_REPORTED, ("retention.class", policy.name), now=now, after={
                "class": policy.name, "older_than": describe(policy.duration), "count": count,
                "oldest": oldest.isoformat() if oldest else None})
    return PurgeResult(data_class=policy.name, details={"reported": count})


def purge_due(*, now: datetime) -> bool:
    """One batch of each class whose daily run is due (``steps.retention_step``); True if it purged or has more."""
    found = False
    for policy in _due_policies(now):
        lease = _claim(policy.name, now, scheduled=True)
        if lease is None:
            continue
        try:
            result, more = purge_batch(policy, now=now, limit=batch_size())
        except Exception:
            _release(policy.name, lease, next_run_at=now + RETRY_AFTER)
            raise
        _finish(policy.name, lease, now, purged=result.count, more=more)
        found = found or more or result.count > 0
    return found


def _due_policies(now: datetime) -> list[Policy]:
    enabled = [p for p in registry.policies() if p.enabled]
    _ensure_schedules([p.name for p in enabled], now)
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    due = set(Schedule.objects.filter(free, next_run_at__lte=now).values_list("data_class", flat=True))
    return [p for p in enabled if p.name in due]


def _ensure_schedules(names: list[str], now: datetime) -> None:
    missing = set(names) - set(Schedule.objects.values_list("data_class", flat=True))
    if missing:
        Schedule.objects.bulk_create([Schedule(data_class=n, next_run_at=now) for n in sorted(missing)],
                                     ignore_conflicts=True)


def _claim(name: str, now: datetime, *, scheduled: bool) -> datetime | None:
    """Take the class's lease with a conditional UPDATE that must hit exactly one row; return it."""
    rows = Schedule.objects.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now), data_class=name)
    if scheduled:
        rows = rows.filter(next_run_at__lte=now)
    lease = now + LEASE
    won = rows.update(lease_until=lease, run_started_at=Coalesce(F("run_started_at"), Value(now)))
    return lease if won == 1 else None


def _ours(name: str, lease: datetime) -> QuerySet[Schedule]:
    """The schedule row, only while it still carries our lease (a lost lease changes nothing)."""
    return Schedule.objects.filter(data_class=name, lease_until=lease)


def _renew(name: str, lease: datetime) -> datetime:
    renewed = max(timezone.now(), lease - LEASE) + LEASE
    if _ours(name, lease).update(lease_until=renewed) != 1:
        raise RetentionBusy(f"class {name}: the lease ran out and another worker took it")
    return renewed


def _release(name: str, lease: datetime, *, next_run_at: datetime) -> None:
    """After a failure: push the class's due time back, so a broken class does not spin."""
    _ours(name, lease).update(lease_until=None, next_run_at=next_run_at)


def _finish(name: str, lease: datetime, now: datetime, *, purged: int, more: bool) -> None:
    """Keep a run going (next batch at the next step), or end it and schedule the next day's."""
    if more:
        _ours(name, lease).update(lease_until=None, next_run_at=now, run_purged=F("run_purged") + purged)
        return
    _ours(name, lease).update(
        lease_until=None, next_run_at=Coalesce(F("run_started_at"), Value(now)) + RUN_EVERY,
        run_started_at=None, last_finished_at=now, last_purged=F("run_purged") + purged, run_purged=0)


@dataclass
class RunSummary:
    data_class: str
    purged: int = 0
    batches: int = 0
    dry_run: bool = False
    details: Counter[str] = field(default_factory=Counter)


def run_class(policy: Policy, *, now: datetime | None = None, dry_run: bool = False,
              limit: int | None = None) -> RunSummary:
    """Purge everything of ``policy`` that is due now (the command). A dry run only counts, and
    changes nothing: no data, no schedule, no audit event."""
    now = now or timezone.now()
    summary = RunSummary(policy.name, dry_run=dry_run)
    if dry_run or not policy.enabled:
        summary.purged = policy.due(now).count() if policy.enabled and policy.destructive else 0
        return summary
    _ensure_schedules([policy.name], now)
    lease = _claim(policy.name, now, scheduled=False)
    if lease is None:
        raise RetentionBusy(f"class {policy.name}: another worker is purging it now")
    try:
        more = True
        while more:
            result, more = purge_batch(policy, now=now, limit=limit or batch_size())
            summary.purged += result.count
            summary.batches += 1
            summary.details.update(result.details)
            lease = _renew(policy.name, lease)
    except Exception:
        _release(policy.name, lease, next_run_at=now + RETRY_AFTER)
        raise
    _finish(policy.name, lease, now, purged=summary.purged, more=False)
    return summary


# ---------------------------------------------------------------- the plan

@dataclass
class ClassPlan:
    """What one class will purge: ``due_now`` at once, then ``days`` (date -> count) as clocks run out."""

    policy: Policy
    due_now: int
    days: dict[date, int]
    schedule: Schedule | None = None

    @property
    def total(self) -> int:
        return self.due_now + sum(self.days.values())

    def weeks(self, start: date) -> dict[date, int]:
        """``days`` summed per week starting at ``start`` (each key is the first day of its week)."""
        weeks: Counter[date] = Counter()
        for day, count in self.days.items():
            weeks[start + timedelta(days=7 * ((day - start).days // 7))] += count
        return dict(sorted(weeks.items()))


def plan(now: datetime | None = None, *, days: int = 28) -> list[ClassPlan]:
    """Per class, what is due now and what falls due on each of the next ``days`` days.

    The same ``Policy.due_by`` query the worker purges with, grouped by the day each clock runs out.
    """
    now = now or timezone.now()
    schedules = {s.data_class: s for s in Schedule.objects.all()}
    return [_class_plan(p, now, days, schedules.get(p.name)) for p in registry.policies()]


def _class_plan(policy: Policy, now: datetime, days: int, schedule: Schedule | None) -> ClassPlan:
    if policy.duration is None:
        return ClassPlan(policy, 0, {}, schedule)
    due_now = policy.due(now).count()
    later = (policy.due_by(now + timedelta(days=days)).filter(**{f"{START}__gt": now - policy.duration})
             .order_by().annotate(day=TruncDate(START)).values("day").annotate(n=Count("pk")))
    by_day: Counter[date] = Counter()
    for row in later:
        by_day[row["day"] + policy.duration] += row["n"]
    return ClassPlan(policy, due_now, dict(sorted(by_day.items())), schedule)
