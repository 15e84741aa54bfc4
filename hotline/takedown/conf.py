"""Typed readers of the takedown settings; the JSON ones are parsed here and checked at start-up."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from hotline.mailintake.mailboxes import parse_mailbox_url

NOTIFY_ROLES = frozenset({"upstream", "registrar", "site_owner"})
FLAGS = frozenset({"police", "managers"})


@dataclass(frozen=True)
class Rung:
    """One step of the escalation ladder: when it applies and what it does."""

    after_repeats: int | None
    after_days: float | None
    notify: tuple[str, ...]
    flag: tuple[str, ...]


def parse_ladder(raw: str) -> list[Rung]:
    """Parse HOTLINE_TAKEDOWN_ESCALATION; raise ImproperlyConfigured naming the bad rung and field."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"HOTLINE_TAKEDOWN_ESCALATION is not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ImproperlyConfigured("HOTLINE_TAKEDOWN_ESCALATION must be a JSON list of rungs.")
    return [_rung(index, entry) for index, entry in enumerate(data)]


def _rung(index: int, entry: Any) -> Rung:
    where = f"HOTLINE_TAKEDOWN_ESCALATION[{index}]"
    if not isinstance(entry, dict) or set(entry) - {"after_repeats", "after_days", "notify", "flag"}:
        raise ImproperlyConfigured(f"{where}: keys are after_repeats, after_days, notify, flag.")
    repeats, days = entry.get("after_repeats"), entry.get("after_days")
    if (repeats is None) == (days is None):
        raise ImproperlyConfigured(f"{where}: give exactly one of after_repeats or after_days.")
    if repeats is not None and (not isinstance(repeats, int) or repeats < 0):
        raise ImproperlyConfigured(f"{where}.after_repeats must be a whole number >= 0.")
    if days is not None and (not isinstance(days, int | float) or days < 0):
        raise ImproperlyConfigured(f"{where}.after_days must be a number >= 0.")
    notify, flag = tuple(entry.get("notify", ())), tuple(entry.get("flag", ()))
    if set(notify) - NOTIFY_ROLES or set(flag) - FLAGS or not (notify or flag):
        raise ImproperlyConfigured(f"{where}: notify is a list of {sorted(NOTIFY_ROLES)}, flag of {sorted(FLAGS)}; "
                                   "a rung needs at least one of them.")
    return Rung(repeats, float(days) if days is not None else None, notify, flag)


def parse_schedule(raw: str) -> list[tuple[float | None, timedelta]]:
    """Parse HOTLINE_TAKEDOWN_CHECK_SCHEDULE: [[up_to_hours or null, every_minutes], ...], last one open."""
    try:
        data = json.loads(raw)
        steps = [(None if h is None else float(h), timedelta(minutes=float(m))) for h, m in data]
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"HOTLINE_TAKEDOWN_CHECK_SCHEDULE must look like [[1, 15], [24, 60], [null, 1440]]: {exc}") from exc
    if not steps or steps[-1][0] is not None or any(every <= timedelta(0) for _, every in steps):
        raise ImproperlyConfigured("HOTLINE_TAKEDOWN_CHECK_SCHEDULE: intervals must be positive and the last "
                                   "step must be open-ended (null hours).")
    return steps


def ladder() -> list[Rung]:
    return _ladder_of(settings.HOTLINE_TAKEDOWN_ESCALATION)


@functools.lru_cache(maxsize=8)
def _ladder_of(raw: str) -> list[Rung]:
    return parse_ladder(raw)


def schedule() -> list[tuple[float | None, timedelta]]:
    return _schedule_of(settings.HOTLINE_TAKEDOWN_CHECK_SCHEDULE)


@functools.lru_cache(maxsize=8)
def _schedule_of(raw: str) -> list[tuple[float | None, timedelta]]:
    return parse_schedule(raw)


def batch_window() -> timedelta:
    return timedelta(minutes=settings.HOTLINE_TAKEDOWN_BATCH_MINUTES)


def send_lease() -> timedelta:
    return timedelta(seconds=settings.HOTLINE_TAKEDOWN_SEND_LEASE_SECONDS)


def miss_interval() -> timedelta:
    return timedelta(minutes=settings.HOTLINE_TAKEDOWN_MISS_INTERVAL_MINUTES)


@register()
def takedown_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """hotline.E201 / E202: the JSON settings of the takedown domain parse."""
    found: list[CheckMessage] = []
    for check_id, reader in (("hotline.E201", ladder), ("hotline.E202", schedule)):
        try:
            reader()
        except ImproperlyConfigured as exc:
            found.append(Error(str(exc), id=check_id))
    return found


@register()
def bounce_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """hotline.E203-E206: the bounce mailbox can be read and is not the intake mailbox; the bounce address
    is an address."""
    found: list[CheckMessage] = []
    address = str(getattr(settings, "HOTLINE_TAKEDOWN_BOUNCE_ADDRESS", "") or "")
    try:
        if address:
            validate_email(address)
    except ValidationError:
        found.append(Error(f"HOTLINE_TAKEDOWN_BOUNCE_ADDRESS {address!r} is not an e-mail address.", id="hotline.E206"))
    url = str(getattr(settings, "HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL", "") or "")
    if not url:
        return found
    try:
        mailbox = parse_mailbox_url(url, prefix="HOTLINE_TAKEDOWN_BOUNCE_MAILBOX")
    except ValueError as exc:
        return [*found, Error(f"HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL: {exc}", id="hotline.E203")]
    if mailbox[1] is not None and not getattr(settings, "HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD", ""):
        found.append(Error("The bounce mailbox is on IMAP but has no password.", id="hotline.E204",
                           hint="Set HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD or its _FILE."))
    if mailbox == _intake_mailbox():
        found.append(Error("HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL names the mail intake mailbox: each reader would "
                           "take the other's mail.", hint="Give bounces a mailbox (or folder) of their own.",
                           id="hotline.E205"))
    return found


def _intake_mailbox() -> object:
    try:
        return parse_mailbox_url(str(getattr(settings, "HOTLINE_MAIL_INTAKE_URL", "") or ""))
    except ValueError:
        return None
