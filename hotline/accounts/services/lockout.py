"""Per-account lockout: N failed attempts (password or second factor) within a window lock the
account for a while. It sits on top of the per-address rate limit, which a botnet spreads thin."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hotline.accounts import actions
from hotline.accounts.models import Lockout, User
from hotline.audit.services import SYSTEM, Actor, record


def is_locked(user: User, now: datetime) -> bool:
    return Lockout.objects.filter(user=user, locked_until__gt=now).exists()


def _seconds(name: str) -> timedelta:
    value: int = getattr(settings, name)
    return timedelta(seconds=value)


@transaction.atomic
def register_failure(user: User, *, factor: str, now: datetime, ip: str = "") -> bool:
    """Count one failed attempt; return whether the account is locked afterwards."""
    guard, _ = Lockout.objects.select_for_update().get_or_create(user=user)
    if guard.is_locked(now):
        return True  # attempts during a lock change nothing: the lock must not grow without end
    if guard.window_started_at is None or now - guard.window_started_at > _seconds("HOTLINE_LOCKOUT_WINDOW_SECONDS"):
        guard.failures, guard.window_started_at = 1, now
    else:
        guard.failures += 1
    if guard.failures >= settings.HOTLINE_LOCKOUT_ATTEMPTS:
        guard.locked_until = now + _seconds("HOTLINE_LOCKOUT_SECONDS")
        record(SYSTEM, actions.USER_LOCKED, user, now=now,
               after={"until": guard.locked_until.isoformat(), "failures": guard.failures, "factor": factor,
                      "ip": ip})
        guard.failures, guard.window_started_at = 0, None
    guard.save(update_fields=["failures", "window_started_at", "locked_until"])
    return guard.is_locked(now)


def clear_failures(user: User) -> None:
    """After a complete sign-in the count starts again (callers audit the sign-in itself)."""
    Lockout.objects.filter(user=user, failures__gt=0).update(failures=0, window_started_at=None)


@transaction.atomic
def unlock(user: User, *, actor: Actor, now: datetime | None = None) -> bool:
    """Lift a lock and forget counted failures; return whether the account was locked."""
    now = now or timezone.now()
    guard = Lockout.objects.select_for_update().filter(user=user).first()
    was_locked = guard is not None and guard.is_locked(now)
    if guard is not None:
        before = {"locked_until": guard.locked_until.isoformat() if guard.locked_until else None,
                  "failures": guard.failures}
        guard.failures, guard.window_started_at, guard.locked_until = 0, None, None
        guard.save(update_fields=["failures", "window_started_at", "locked_until"])
        record(actor, actions.USER_UNLOCKED, user, now=now, before=before, after={"locked_until": None})
    return was_locked
