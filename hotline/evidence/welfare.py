"""Analyst welfare: count viewing time per day, enforce the daily budget, remind of breaks.

Time counts while a media page is open: each page load or heartbeat adds the time since the
previous one, capped at ``GAP`` (an idle gap is not exposure). A gap of at least the break
length starts a new streak; a streak longer than ``HOTLINE_BREAK_AFTER_MINUTES`` asks for a break.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from hotline.accounts.models import User
from hotline.evidence.models import Exposure

GAP = timedelta(minutes=5)


@dataclass(frozen=True)
class WelfareState:
    seconds_today: int
    budget_seconds: int
    streak_seconds: int
    break_after_seconds: int

    @property
    def over_budget(self) -> bool:
        return self.seconds_today >= self.budget_seconds

    @property
    def break_due(self) -> bool:
        return self.streak_seconds >= self.break_after_seconds

    @property
    def minutes_left(self) -> int:
        return max(0, (self.budget_seconds - self.seconds_today) // 60)


def _state(row: Exposure | None, now: datetime) -> WelfareState:
    budget = settings.HOTLINE_VIEWING_BUDGET_MINUTES * 60
    break_after = settings.HOTLINE_BREAK_AFTER_MINUTES * 60
    if row is None:
        return WelfareState(0, budget, 0, break_after)
    resting = now - row.last_seen_at >= timedelta(minutes=settings.HOTLINE_BREAK_MINUTES)
    streak = 0 if resting else int((row.last_seen_at - row.streak_started_at).total_seconds())
    return WelfareState(row.seconds, budget, streak, break_after)


def current(user: User, now: datetime) -> WelfareState:
    return _state(Exposure.objects.filter(user=user, day=now.date()).first(), now)


@transaction.atomic
def note_viewing(user: User, now: datetime, *, reveal: bool = False) -> WelfareState:
    """Count time since the last page load or heartbeat (capped) and return the new state."""
    row, created = Exposure.objects.select_for_update().get_or_create(
        user=user, day=now.date(), defaults={"last_seen_at": now, "streak_started_at": now}
    )
    if not created:
        gap = max(timedelta(0), now - row.last_seen_at)
        if gap >= timedelta(minutes=settings.HOTLINE_BREAK_MINUTES):
            row.streak_started_at = now
        row.seconds += int(min(gap, GAP).total_seconds())
        row.last_seen_at = now
    if reveal:
        row.reveals = F("reveals") + 1
    row.save(update_fields=["seconds", "last_seen_at", "streak_started_at", "reveals"])
    row.refresh_from_db()
    return _state(row, now)
