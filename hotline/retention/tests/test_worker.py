"""The purge worker: once a day per class, in batches, claimed safely, audited, crash-safe; the command."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.evidence.models import Blob, Media
from hotline.evidence.store import get_blob_bytes, orphans
from hotline.retention import registry, services
from hotline.retention.models import PurgedObject, Schedule
from hotline.retention.policy import sha256_text
from hotline.retention.services import RETRY_AFTER, RetentionBusy, run_class
from hotline.retention.steps import retention_step
from hotline.retention.tests.conftest import DAY, T0, Settle, audit_after

pytestmark = pytest.mark.django_db
DUE = T0 + 91 * DAY


@pytest.fixture
def only_media(settings: Any) -> None:
    """Every other class off, so a step's work is easy to count."""
    settings.HOTLINE_RETENTION = {name: "forever" for name in registry.NAMES if name != "media"}


def due_media(settled: Settle, media_of: Callable[..., Media], n: int) -> list[Media]:
    return [media_of(settled("not_illegal")) for _ in range(n)]


def test_it_purges_in_batches_within_one_daily_run(only_media: None, settings: Any, settled: Settle,
                                                   media_of: Callable[..., Media]) -> None:
    settings.HOTLINE_RETENTION_BATCH = 2
    due_media(settled, media_of, 5)

    with time_machine.travel(DUE, tick=False):
        assert [retention_step() for _ in range(4)] == [True, True, True, False]

    assert [a["count"] for a in audit_after("retention.purged")] == [2, 2, 1]
    schedule = Schedule.objects.get(data_class="media")
    assert schedule.last_purged == 5 and schedule.next_run_at == DUE + DAY and schedule.lease_until is None


def test_it_runs_a_class_at_most_once_a_day(only_media: None, settled: Settle,
                                            media_of: Callable[..., Media]) -> None:
    with time_machine.travel(DUE, tick=False):
        retention_step()
    media_of(settled("not_illegal"))  # due from the moment it exists (settled at T0)

    with time_machine.travel(DUE + timedelta(hours=23), tick=False):
        assert retention_step() is False
    assert Media.objects.filter(blob__isnull=False).count() == 1
    with time_machine.travel(DUE + DAY, tick=False):
        assert retention_step() is True
    assert Media.objects.filter(blob__isnull=False).count() == 0


def test_the_audit_event_has_counts_and_the_digest_of_what_was_destroyed(
        settled: Settle, media_of: Callable[..., Media]) -> None:
    media = due_media(settled, media_of, 3)
    blobs = sorted(m.blob.sha256 for m in media if m.blob)

    run_class(registry.policy("media"), now=DUE)

    [after] = audit_after("retention.purged")
    assert after["count"] == 3 and after["blobs_destroyed"] == 3
    assert after["objects"] == sorted(m.pk for m in media)
    assert after["digests"] == blobs and after["sha256"] == sha256_text("\n".join(blobs))
    event = AuditEvent.objects.get(action="retention.purged")
    assert (event.object_type, event.object_id, event.at) == ("retention.class", "media", DUE)
    assert verify().ok


def test_a_class_leased_by_another_worker_is_left_alone(only_media: None, settled: Settle,
                                                        media_of: Callable[..., Media]) -> None:
    due_media(settled, media_of, 1)
    Schedule.objects.create(data_class="media", next_run_at=T0, lease_until=DUE + timedelta(minutes=5))

    assert retention_step(now=DUE) is False
    with pytest.raises(RetentionBusy):
        run_class(registry.policy("media"), now=DUE)
    assert not PurgedObject.objects.exists()
    assert retention_step(now=DUE + timedelta(minutes=6)) is True, "an expired lease is taken over"


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_purge_each_row_exactly_once(only_media: None, settings: Any, settled: Settle,
                                                         media_of: Callable[..., Media]) -> None:
    settings.HOTLINE_RETENTION_BATCH = 3
    media = due_media(settled, media_of, 8)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait()
            while retention_step(now=DUE):
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert PurgedObject.objects.filter(data_class="media").count() == 8
    purged = [pk for after in audit_after("retention.purged") for pk in after["objects"]]
    assert sorted(purged) == sorted(m.pk for m in media), "every row once, none twice"


def test_a_crash_mid_purge_keeps_everything_and_pushes_the_class_back(
        only_media: None, settled: Settle, media_of: Callable[..., Media], monkeypatch: pytest.MonkeyPatch) -> None:
    [media] = due_media(settled, media_of, 1)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(services, "record", crash)
    with pytest.raises(RuntimeError):
        retention_step(now=DUE)

    media.refresh_from_db()
    assert media.blob is not None and get_blob_bytes(media.blob)
    assert not PurgedObject.objects.exists()
    schedule = Schedule.objects.get(data_class="media")
    assert schedule.lease_until is None and schedule.next_run_at == DUE + RETRY_AFTER


def test_a_crash_after_commit_leaves_only_an_unreadable_orphan_file(
        settled: Settle, media_of: Callable[..., Media], django_capture_on_commit_callbacks: Any,
        settings: Any, tmp_path: Path) -> None:
    settings.HOTLINE_STORE = {"BACKEND": "filesystem", "ROOT": str(tmp_path / "store")}
    [media] = due_media(settled, media_of, 1)
    blob = media.blob
    assert blob is not None

    with django_capture_on_commit_callbacks(execute=False) as pending:
        run_class(registry.policy("media"), now=DUE)

    media.refresh_from_db()
    assert media.blob is None and PurgedObject.objects.filter(object_id=media.pk).exists()
    assert not Blob.objects.filter(pk=blob.pk).exists(), "the data key went with the row"
    assert orphans() == [blob.storage_name], "the file deletion had not run yet: the orphan sweep finds it"
    for callback in pending:
        callback()
    assert orphans() == []


def test_a_dry_run_changes_nothing(settled: Settle, media_of: Callable[..., Media]) -> None:
    media = due_media(settled, media_of, 2)
    events = AuditEvent.objects.count()
    out = StringIO()

    with time_machine.travel(DUE, tick=False):
        call_command("retention", "run", "--dry-run", stdout=out)
        summary = run_class(registry.policy("media"), dry_run=True)

    assert "media: would purge 2" in out.getvalue() and summary.purged == 2
    assert all(Media.objects.get(pk=m.pk).blob_id == m.blob_id for m in media)
    assert AuditEvent.objects.count() == events
    assert not Schedule.objects.exists() and not PurgedObject.objects.exists()


def test_the_run_command_purges_one_class(settled: Settle, media_of: Callable[..., Media]) -> None:
    due_media(settled, media_of, 2)
    out = StringIO()
    with time_machine.travel(DUE, tick=False):
        call_command("retention", "run", "--class", "media", stdout=out)
    assert out.getvalue().startswith("media: purged 2") and "blobs_destroyed 2" in out.getvalue()
    assert Media.objects.filter(blob__isnull=False).count() == 0
