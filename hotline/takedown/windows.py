"""Sending windows: the first moment at or after a time when a contact accepts notices."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline.takedown.models import ContactPolicy

_HORIZON_DAYS = 60  # a window that never opens (e.g. every day a holiday) must not loop forever


def next_open(policy: ContactPolicy | None, at: datetime) -> datetime:
    """``at`` itself when the contact's window is open then, else the start of its next window.

    No policy, or a policy without days/hours, means always open. Holidays close whole days in the
    contact's time zone.
    """
    if policy is None or not (policy.weekdays or policy.window_start or policy.holidays):
        return at
    zone = _zone(policy.timezone)
    local = at.astimezone(zone)
    for offset in range(_HORIZON_DAYS):
        day = (local + timedelta(days=offset)).date()
        if not _day_open(policy, day.weekday(), day.isoformat()):
            continue
        start = datetime.combine(day, policy.window_start or time(0, 0), tzinfo=zone)
        end = datetime.combine(day, policy.window_end, tzinfo=zone) if policy.window_end else None
        candidate = max(start, local) if offset == 0 else start
        if end is None or candidate < end:
            return candidate.astimezone(at.tzinfo)
    return at  # misconfigured: never hold a notice back for ever


def is_open(policy: ContactPolicy | None, at: datetime) -> bool:
    return next_open(policy, at) == at


def _day_open(policy: ContactPolicy, weekday: int, iso_day: str) -> bool:
    if policy.weekdays and weekday not in policy.weekdays:
        return False
    return iso_day not in (policy.holidays or [])


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
