"""System checks for unsafe production settings (``manage.py check --deploy`` runs them too)."""

from __future__ import annotations

import sqlite3
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def unsafe_production_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG:
        return []
    found: list[CheckMessage] = []
    simulation = ("HOTLINE_FETCH_ALLOW_LOOPBACK", "HOTLINE_SIM_HOSTS", "HOTLINE_SIM_PORTS")
    if any(getattr(settings, name, None) for name in simulation):
        found.append(Error(
            "Fetching from loopback or simulated hosts is enabled while DEBUG is off.",
            hint="Unset HOTLINE_FETCH_ALLOW_LOOPBACK, HOTLINE_SIM_HOSTS and HOTLINE_SIM_PORTS in production.",
            id="hotline.E001",
        ))
    if "*" in settings.ALLOWED_HOSTS:
        found.append(Error("ALLOWED_HOSTS contains '*'.", hint="List the real host names.", id="hotline.E002"))
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        found.append(Warning(
            "SQLite is in use with DEBUG off.",
            hint="SQLite suits one machine and small volumes; use PostgreSQL (DATABASE_URL=postgres://...) "
            "for production and for more than one worker machine.",
            id="hotline.W001",
        ))
    return found


@register(Tags.compatibility)
def rate_limit_counter_support(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The rate-limit counter is one ``INSERT … ON CONFLICT … RETURNING``: SQLite needs 3.35 or later."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("sqlite3") and sqlite3.sqlite_version_info < (3, 35):
        return [Error(
            f"SQLite {sqlite3.sqlite_version} cannot count rate limits (UPSERT … RETURNING needs 3.35).",
            hint="Use a Python built against SQLite 3.35 or later, or PostgreSQL.",
            id="hotline.E003",
        )]
    return []
