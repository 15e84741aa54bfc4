"""HOTLINE_RETENTION is parsed strictly; a bad value names its class and stops the work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from hotline.retention import registry
from hotline.retention.services import plan
from hotline.retention.steps import retention_step


def durations(**configured: object) -> dict[str, timedelta | None]:
    return {p.name: p.duration for p in registry.policies(configured)}


def test_it_reads_days_weeks_and_forever() -> None:
    parsed = durations(media="30d", warc="2w", notices="forever", trace_snapshots=" 12W ")
    assert parsed["media"] == timedelta(days=30) and parsed["warc"] == timedelta(days=14)
    assert parsed["notices"] is None and parsed["trace_snapshots"] == timedelta(days=84)
    assert parsed["reporter_contact"] == timedelta(days=180), "unlisted classes keep their default"


@pytest.mark.parametrize(("value", "message"), [
    ("90 days", "'media'.*not a duration"), ("0d", "'media'.*not a duration"), ("-3d", "'media'.*not a duration"),
    ("90", "'media'.*not a duration"), (90, "'media'.*not a text"), ("99999w", "'media'.*longer than"),
])
def test_a_malformed_duration_names_the_class(value: object, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        durations(media=value)


def test_an_unknown_class_is_named() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'medai'.*no such data class"):
        durations(medai="90d")


@pytest.mark.django_db
def test_the_worker_and_the_plan_refuse_bad_settings(settings: Any) -> None:
    settings.HOTLINE_RETENTION = {"warc": "soon"}
    with pytest.raises(ImproperlyConfigured, match="'warc'"):
        retention_step()
    with pytest.raises(ImproperlyConfigured, match="'warc'"):
        plan()


def test_the_system_check_reports_bad_settings(settings: Any) -> None:
    settings.HOTLINE_RETENTION = {"notices": "1y"}
    errors = [e for e in run_checks() if e.id == "retention.E001"]
    assert len(errors) == 1 and "'notices'" in errors[0].msg
    settings.HOTLINE_RETENTION = {}
    assert not [e for e in run_checks() if e.id == "retention.E001"]
