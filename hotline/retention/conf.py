"""Retention durations per data class from ``settings.HOTLINE_RETENTION``, parsed strictly.

Values are ``"<n>d"`` (days), ``"<n>w"`` (weeks) or ``"forever"`` (the class never purges).
Anything else, or a class name nobody knows, raises ``ImproperlyConfigured`` naming the class.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_DURATION = re.compile(r"([1-9][0-9]{0,4})([dw])")
FOREVER = "forever"
# The longest duration accepted: longer values are almost certainly a typo (and overflow dates).
MAX_DAYS = 36500


def parse_duration(class_name: str, raw: object) -> timedelta | None:
    """``timedelta`` for ``raw``, or None for ``"forever"``; errors name the class."""
    if not isinstance(raw, str):
        raise ImproperlyConfigured(
            f"HOTLINE_RETENTION[{class_name!r}]: {raw!r} is not a text such as \"90d\", \"12w\" or \"forever\".")
    value = raw.strip().lower()
    if value == FOREVER:
        return None
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ImproperlyConfigured(
            f"HOTLINE_RETENTION[{class_name!r}]: {raw!r} is not a duration such as \"90d\", \"12w\" or \"forever\".")
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    if days > MAX_DAYS:
        raise ImproperlyConfigured(f"HOTLINE_RETENTION[{class_name!r}]: {raw!r} is longer than {MAX_DAYS} days.")
    return timedelta(days=days)


def durations(defaults: Mapping[str, str], configured: object = None) -> dict[str, timedelta | None]:
    """Every class's duration: ``defaults`` overridden by ``configured`` (default: the setting)."""
    if configured is None:
        configured = getattr(settings, "HOTLINE_RETENTION", None) or {}
    if not isinstance(configured, Mapping):
        raise ImproperlyConfigured("HOTLINE_RETENTION must be a mapping of class name to duration.")
    unknown = sorted(str(name) for name in configured if name not in defaults)
    if unknown:
        raise ImproperlyConfigured(
            f"HOTLINE_RETENTION[{unknown[0]!r}]: no such data class (known: {', '.join(sorted(defaults))}).")
    merged = {**defaults, **configured}
    return {name: parse_duration(name, merged[name]) for name in defaults}


def describe(duration: timedelta | None) -> str:
    """``"90d"`` style text for a duration (``"forever"`` for None)."""
    return FOREVER if duration is None else f"{duration.days}d"
