"""The plan: what each class will purge on which day, computed as the worker computes it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from hotline.audit.models import AuditEvent
from hotline.evidence.models import Media
from hotline.reports.models import Item
from hotline.retention.services import plan
from hotline.retention.steps import retention_step
from hotline.retention.tests.conftest import DAY, T0, Settle
from hotline.tracing.models import Trace

pytestmark = pytest.mark.django_db


def by_class(now: Any, days: int) -> dict[str, Any]:
    return {p.policy.name: p for p in plan(now, days=days)}


def test_the_plan_equals_what_the_worker_then_does(settled: Settle, media_of: Callable[..., Media],
                                                   make_item: Callable[..., Item]) -> None:
    for offset in (0, 0, 2, 3, 3, 3, 9):
        media_of(settled("not_illegal", at=T0 + offset * DAY + timedelta(hours=offset)))
    media_of(settled("removed", at=T0 - 5 * DAY))  # overdue at once
    media_of(settled("not_illegal", at=T0 + 40 * DAY))  # beyond the horizon
    item = make_item()
    for day in range(6):
        Trace.objects.create(item=item, traced_at=T0 + day * DAY, host=item.host, outcome="ok", country="BE")
    # The worker's daily run falls at the last second of each day, so what falls due on a day is purged that day.
    start = T0 + 90 * DAY - timedelta(hours=12, seconds=1)

    planned = by_class(start, days=14)
    media, traces = planned["media"], planned["trace_snapshots"]
    assert media.due_now == 1 and media.days == {
        date(2030, 4, 1): 2, date(2030, 4, 3): 1, date(2030, 4, 4): 3, date(2030, 4, 10): 1}
    assert traces.due_now == 0 and traces.days == {date(2030, 4, d): 1 for d in (2, 3, 4, 5)}

    for n in range(15):
        with time_machine.travel(start + n * DAY, tick=False):
            while retention_step():
                pass

    done: dict[str, Counter[date]] = {"media": Counter(), "trace_snapshots": Counter()}
    for event in AuditEvent.objects.filter(action="retention.purged"):
        assert event.after is not None
        done[event.object_id][event.at.date()] += event.after["count"]
    assert done["media"].pop(start.date()) == media.due_now
    assert done["media"] == media.days and done["trace_snapshots"] == traces.days
    assert Trace.objects.filter(item=item).count() == 2, "first and latest stay"


def test_the_plan_sums_days_into_weeks(settled: Settle, media_of: Callable[..., Media]) -> None:
    for offset in (1, 2, 8):
        media_of(settled("not_illegal", at=T0 + offset * DAY))
    media = by_class(T0 + 90 * DAY, days=28)["media"]
    start = (T0 + 90 * DAY).date()
    assert media.weeks(start) == {start: 2, start + timedelta(days=7): 1} and media.total == 3


def test_a_class_kept_forever_plans_nothing(settings: Any, settled: Settle, media_of: Callable[..., Media]) -> None:
    settings.HOTLINE_RETENTION = {"media": "forever"}
    media_of(settled("not_illegal"))
    media = by_class(T0 + 1000 * DAY, days=28)["media"]
    assert (media.due_now, media.days, media.policy.enabled) == (0, {}, False)


def test_the_plan_command_prints_a_table_per_class(settled: Settle, media_of: Callable[..., Media]) -> None:
    media_of(settled("not_illegal"))
    out = StringIO()
    with time_machine.travel(T0 + 100 * DAY, tick=False):
        call_command("retention", "plan", "--days", "7", "--by", "day", stdout=out)
    text = out.getvalue()
    assert "Retention plan from 2030-04-11" in text
    media_row = next(line for line in text.splitlines() if " media " in line)
    assert "90d" in media_row and " 1 " in media_row
    assert all(name in text for name in ("reporter_contact", "trace_snapshots", "audit", "forever"))
