"""Pull: ICCAM content without our reference becomes reports of ours, exactly once, across restarts and crashes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.iccam.models import Content, PullState
from hotline.iccam.steps import pull_step
from hotline.reports.models import Item, Report, Source
from hotline.sim.iccam import SimIccam

pytestmark = pytest.mark.django_db


def _urls(n: int, first: int = 1) -> list[str]:
    return [f"http://site-{k}.sim.test/img-{k}.png" for k in range(first, first + n)]


def test_it_imports_each_listed_item_as_an_iccam_report_and_writes_our_reference_back(iccam_on: SimIccam) -> None:
    report_id = iccam_on.add_report(_urls(3), memo="three images")
    assert pull_step() is True
    report = Report.objects.get()
    assert (report.source, report.external_ref, report.text, report.url_count) == (
        Source.ICCAM, f"ICCAM {report_id}", "three images", 3)
    contents = list(Content.objects.order_by("content_id"))
    assert all(Item.objects.get(pk=c.item_id or 0).canonical_url == c.url for c in contents)
    assert Item.objects.count() == 3
    assert all(c.referenced_at and c.hotline_reference.startswith(report.reference + "_") for c in contents)
    assert [iccam_on.contents[c.content_id]["hotlineReference"] for c in contents] == [
        c.hotline_reference for c in contents]
    assert [c.is_source_url for c in contents] == [True, False, False]
    written = AuditEvent.objects.filter(action="iccam.reference_written", object_type="iccam.content")
    assert {(e.object_id, (e.after or {})["reference"]) for e in written} == {
        (str(c.content_id), c.hotline_reference) for c in contents}
    assert all(c.reference_error == "" for c in contents)
    with iccam_on._lock:
        assert iccam_on._no_reference({"countryAssignmentStartDate": "2000-01-01 00:00:00"}) == []


def test_it_pulls_once_a_minute_and_then_finds_nothing_new(iccam_on: SimIccam) -> None:
    iccam_on.add_report(_urls(2))
    now = timezone.now()
    assert pull_step(now=now) is True
    assert pull_step(now=now + timedelta(seconds=30)) is False  # not yet a minute
    iccam_on.add_report(_urls(1, first=10))
    assert pull_step(now=now + timedelta(seconds=61)) is True
    assert Report.objects.count() == 2 and Content.objects.count() == 3


def test_a_url_we_already_know_is_merged_as_usual(iccam_on: SimIccam, make_item: Any) -> None:
    known = make_item("http://site-1.sim.test/img-1.png")
    iccam_on.add_report(_urls(2))
    pull_step()
    assert Content.objects.get(url="http://site-1.sim.test/img-1.png").item_id == known.pk
    known.refresh_from_db()
    assert known.report_count == 2


def test_items_assigned_to_another_country_are_not_listed(iccam_on: SimIccam) -> None:
    iccam_on.add_report(_urls(1), assigned_country="NL")
    pull_step()
    assert not Report.objects.exists()


def test_a_crash_before_the_import_commits_leaves_nothing_and_the_next_run_imports_once(
    iccam_on: SimIccam, monkeypatch: pytest.MonkeyPatch
) -> None:
    iccam_on.add_report(_urls(2))
    iccam_on.add_report(_urls(2, first=5))

    real = Content.objects.bulk_create
    calls = {"n": 0}

    def crash_on_second(rows: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("the worker dies inside the second report's transaction")
        return real(rows, **kw)

    monkeypatch.setattr(Content.objects, "bulk_create", crash_on_second)
    now = timezone.now()
    with pytest.raises(KeyboardInterrupt):
        pull_step(now=now)
    assert Report.objects.count() == 1 and Content.objects.count() == 2  # the first report, whole
    monkeypatch.undo()
    PullState.objects.update(lease_until=None)  # the dead worker's lease, run out
    assert pull_step(now=now + timedelta(minutes=1))
    assert Report.objects.count() == 2 and Content.objects.count() == 4
    assert sorted(c["hotlineReference"] is not None for c in iccam_on.contents.values()) == [True] * 4
    assert AuditEvent.objects.filter(action="iccam.content_imported").count() == 4


def test_a_crash_after_the_import_but_before_the_reference_only_writes_the_reference_again(
    iccam_on: SimIccam
) -> None:
    iccam_on.add_report(_urls(2))
    now = timezone.now()
    iccam_on.offline = False
    original = iccam_on._write

    def reference_fails(method: str, item: dict[str, Any], what: str, query: Any, data: Any) -> Any:
        if what == "hotline-reference":
            iccam_on.offline = True  # ICCAM goes away between the import and the reference write
            from hotline.sim.iccam import _Refused

            raise _Refused(503, "Service", "Unavailable")
        return original(method, item, what, query, data)

    iccam_on._write = reference_fails  # type: ignore[method-assign]
    assert pull_step(now=now)
    assert Report.objects.count() == 1 and PullState.objects.get().last_error.startswith("HTTP 503")
    assert not Content.objects.filter(referenced_at__isnull=False).exists()
    iccam_on._write = original  # type: ignore[method-assign]
    iccam_on.offline = False
    assert pull_step(now=now + timedelta(minutes=1))
    assert Report.objects.count() == 1 and Content.objects.filter(referenced_at__isnull=False).count() == 2
    references = {c.content_id: c.hotline_reference for c in Content.objects.all()}
    assert all(iccam_on.contents[k]["hotlineReference"] == v for k, v in references.items())
    assert PullState.objects.get().last_error == ""


def test_a_429_pauses_the_connector_for_retry_after(iccam_on: SimIccam) -> None:
    iccam_on.add_report(_urls(1))
    now = timezone.now()
    iccam_on.throttle(1, retry_after=300)
    assert pull_step(now=now)
    state = PullState.objects.get()
    assert state.paused_until == now + timedelta(seconds=300) and "429" in state.last_error
    assert pull_step(now=now + timedelta(minutes=2)) is False  # still paused
    assert pull_step(now=now + timedelta(minutes=6)) is True
    assert Report.objects.count() == 1


def test_more_items_than_one_list_holds_are_drained_in_one_pull(iccam_on: SimIccam, settings: Any) -> None:
    settings.HOTLINE_ICCAM_MAX_RESULTS = 5
    for k in range(12):
        iccam_on.add_report(_urls(1, first=100 + k))
    pull_step()
    assert Content.objects.count() == 12 and iccam_on.calls["GET rest/Content/no-reference"] == 3


def test_the_connector_is_off_without_settings(sim_iccam: SimIccam) -> None:
    sim_iccam.add_report(_urls(1))
    assert pull_step() is False and sim_iccam.calls == {}


def test_the_pull_is_claimed_once_per_interval_and_not_while_leased_or_paused() -> None:
    """``claim_pull`` reads first (SQL compiled once) and writes only when the pull may be due: the conditional
    UPDATE still decides."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hotline.iccam.services import claim_pull, finish_pull, pause

    now, minute, lease = timezone.now(), timedelta(minutes=1), timedelta(minutes=10)
    assert claim_pull(now=now, interval=minute, lease=lease)  # no state yet: the first pull
    assert not claim_pull(now=now, interval=minute, lease=lease)  # leased
    assert not claim_pull(now=now + 2 * minute, interval=minute, lease=lease)  # still leased
    finish_pull(now=now + 2 * minute, since=now)
    with CaptureQueriesContext(connection) as context:
        assert not claim_pull(now=now + 2 * minute + timedelta(seconds=59), interval=minute, lease=lease)
    assert len(context.captured_queries) == 1  # the usual answer: one read, nothing written
    assert claim_pull(now=now + 3 * minute, interval=minute, lease=lease)  # the interval passed
    finish_pull(now=now + 3 * minute, since=now)
    pause(now=now + 3 * minute, seconds=600)
    assert not claim_pull(now=now + 5 * minute, interval=minute, lease=lease)  # paused
    assert claim_pull(now=now + 14 * minute, interval=minute, lease=lease)
    assert PullState.objects.get().lease_until == now + 14 * minute + lease


def test_a_due_pull_is_claimed_with_one_read_and_one_update_and_its_outcome_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim's UPDATE and the outcome's are compiled once; the UPDATE decides when another worker took the
    pull between the read and the write."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hotline.iccam.services import claim_pull, finish_pull
    from hotline.lib import prepared

    now, minute, lease = timezone.now(), timedelta(minutes=1), timedelta(minutes=10)
    assert claim_pull(now=now, interval=minute, lease=lease)
    finish_pull(now=now, since=now - timedelta(days=1), error="HTTP 503: busy")
    state = PullState.objects.get()
    assert (state.lease_until, state.last_pull_at, state.last_error, state.last_error_at) == (
        None, now, "HTTP 503: busy", now)
    later = now + 2 * minute
    with CaptureQueriesContext(connection) as context:
        assert claim_pull(now=later, interval=minute, lease=lease)
    assert [q["sql"].split()[0] for q in context.captured_queries] == ["SELECT", "UPDATE"]
    finish_pull(now=later, since=now)
    state = PullState.objects.get()
    assert (state.lease_until, state.last_pull_at, state.since, state.last_error, state.last_error_at) == (
        None, later, now, "", now)  # the last error's time is kept with the error cleared, as before
    monkeypatch.setattr(prepared, "any_row", lambda *args, **kwargs: False)  # the read saw it free ...
    PullState.objects.update(lease_until=later + 3 * minute)  # ... and another worker took it meanwhile
    assert not claim_pull(now=later + 2 * minute, interval=minute, lease=lease)
    assert PullState.objects.get().lease_until == later + 3 * minute
