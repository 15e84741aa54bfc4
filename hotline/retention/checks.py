"""System check: ``HOTLINE_RETENTION`` must parse, so a typo stops start-up instead of the worker."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def retention_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from hotline.retention.registry import policies

    try:
        policies()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="See docs/retention.md for the classes and the duration format.",
                      id="retention.E001")]
    return []
