"""Typed readers for environment settings that fail loudly on bad values.

Every secret may also come from a file named by ``<NAME>_FILE`` (container secrets).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

_N = TypeVar("_N", int, float)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def text(name: str, default: str | None = None) -> str | None:
    """Return ``name`` from the environment, or the contents of the file ``name_FILE``."""
    value = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if value is not None and path:
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set; keep one.")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return value if value is not None else default


def required(name: str) -> str:
    value = text(name)
    if not value:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set.")
    return value


def boolean(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def integer(name: str, default: int, *, minimum: int | None = None) -> int:
    return _bounded(name, default, int, "an integer", minimum)


def number(name: str, default: float, *, minimum: float | None = None) -> float:
    return _bounded(name, default, float, "a number", minimum)


def _bounded(name: str, default: _N, parse: Callable[[str], _N], kind: str, minimum: _N | None) -> _N:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}.") from exc
    if isinstance(value, float) and math.isnan(value):
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}.")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def csv_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def choice(name: str, options: list[str], default: str) -> str:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in options:
        raise ImproperlyConfigured(f"{name}={raw!r} is not one of {', '.join(options)}.")
    return value
