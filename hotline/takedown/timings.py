"""Timings of one item, derived from the stamps on its rows (never from logs): from the report to the police,
to the first notice and to removal, and whether the removal came within 24 hours / 3 days / 7 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min

from hotline.routing.models import Referral
from hotline.takedown.models import Takedown

FLAG_LIMITS = (("24h", timedelta(hours=24)), ("3d", timedelta(days=3)), ("7d", timedelta(days=7)))


@dataclass(frozen=True)
class ItemTimings:
    reported_at: datetime
    police_at: datetime | None
    first_notice_at: datetime | None
    acknowledged_at: datetime | None
    removed_at: datetime | None
    to_police: timedelta | None
    to_notice: timedelta | None
    to_removal: timedelta | None
    notice_to_ack: timedelta | None
    notice_to_removal: timedelta | None
    # "24h" / "3d" / "7d" -> removed within (True), not (False), or not known yet (None).
    within: dict[str, bool | None]


def police_time(item_id: int) -> datetime | None:
    """When the first police referral of the item went out (routing's referral rows)."""
    found: datetime | None = Referral.objects.filter(items=item_id, sent_at__isnull=False).aggregate(
        first=Min("sent_at"))["first"]
    return found


def _span(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start is not None and end is not None else None


def within(start: datetime, removed_at: datetime | None, limit: timedelta, now: datetime) -> bool | None:
    if removed_at is not None:
        return removed_at - start <= limit
    return False if now - start > limit else None


def for_takedown(takedown: Takedown, *, now: datetime, police_at: datetime | None = None) -> ItemTimings:
    police = police_at if police_at is not None else police_time(takedown.item_id)
    start = takedown.reported_at
    return ItemTimings(
        reported_at=start, police_at=police, first_notice_at=takedown.first_notice_at,
        acknowledged_at=takedown.acknowledged_at, removed_at=takedown.first_removed_at,
        to_police=_span(start, police), to_notice=_span(start, takedown.first_notice_at),
        to_removal=_span(start, takedown.first_removed_at),
        notice_to_ack=_span(takedown.first_notice_at, takedown.acknowledged_at),
        notice_to_removal=_span(takedown.first_notice_at, takedown.first_removed_at),
        within={name: within(start, takedown.first_removed_at, limit, now) for name, limit in FLAG_LIMITS},
    )


def human(span: timedelta | None) -> str:
    """``2 d 03:15`` / ``03:15`` / ``-`` for tables."""
    if span is None:
        return "-"
    negative, seconds = span < timedelta(0), int(abs(span.total_seconds()))
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
    return ("-" if negative else "") + (f"{days} d {text}" if days else text)
