"""Reports without a URL in the statistics (counted by kind) and in the retention plan (their own class)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hotline.accounts.models import User
from hotline.assessment.models import Incident, IncidentScreenshot
from hotline.assessment.services import incidents
from hotline.audit.services import SYSTEM
from hotline.evidence.backends import storage_from_settings
from hotline.evidence.models import Blob
from hotline.reports.models import Report, Source
from hotline.reports.services import IncomingReport, receive_reports
from hotline.retention import registry
from hotline.retention.models import PurgedObject
from hotline.retention.services import run_class
from hotline.sim.images import make_image
from hotline.stats import services
from hotline.stats.filters import Filters

pytestmark = pytest.mark.django_db
T0 = datetime(2030, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _incident(kind: str, *, at: datetime = T0, seed: int = 1, contact: str = "") -> Incident:
    report = incidents.receive_incident(incidents.IncomingIncident(
        kind=kind, description="Threats over chat.", accounts="someone.example.test", platform="GameChat",
        contact=contact, screenshots=[make_image("png", seed, size=(160, 100))]), actor=SYSTEM, now=at)
    incident: Incident = report.incident
    return incident


def test_statistics_count_reports_by_kind() -> None:
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=["http://a.sim.test/1"], received_at=T0),
                     IncomingReport(source=Source.PUBLIC, urls=["http://a.sim.test/2"], received_at=T0)],
                    actor=SYSTEM, now=T0)
    _incident("sextortion")
    _incident("sextortion", seed=2)
    _incident("grooming", seed=3)
    filters = Filters(first=date(2030, 3, 1), last=date(2030, 3, 31))
    (kinds,) = services.tables(filters, now=T0 + DAY, names=["report_kinds"])
    assert {row["key"]: row["items"] for row in kinds.rows} == {"url": 2, "sextortion": 2, "grooming": 1}
    (headline, _share) = services.tables(filters, now=T0 + DAY, names=["headline", "illegal_share"])
    reports_row = next(row for row in headline.rows if row["key"] == "reports")
    assert reports_row["value"] == 5  # every report counts in the volume, with or without a URL


def test_retention_clears_a_closed_incident_after_its_time_and_keeps_the_facts(analyst: User) -> None:
    policy = registry.policy("incidents")
    assert policy.duration == timedelta(days=365) and policy.item_path is None
    closed = _incident("sextortion", contact="me@example.test")
    still_open = _incident("grooming", seed=2)
    incidents.annotate_incident(closed, ["sextortion"], user=analyst, now=T0)
    incidents.close_incident(closed, user=analyst, now=T0 + DAY)
    shot = IncidentScreenshot.objects.get(incident=closed)
    assert shot.blob is not None
    name = shot.blob.storage_name
    assert storage_from_settings().exists(name)
    assert run_class(policy, now=T0 + 300 * DAY).purged == 0  # not yet due
    result = run_class(policy, now=T0 + 367 * DAY)
    assert result.purged == 1
    closed.refresh_from_db()
    still_open.refresh_from_db()
    assert (closed.description, closed.accounts, closed.platform) == ("", "", "")
    assert Report.objects.get(incident=closed).reporter_contact == ""
    assert closed.ann_sextortion and closed.report.kind == "sextortion" and closed.status == "closed"
    shot.refresh_from_db()
    assert shot.blob is None and len(shot.sha256) == 64  # the hash stays as the record
    assert not Blob.objects.filter(storage_name=name).exists()
    assert PurgedObject.objects.filter(data_class="incidents", object_id=closed.pk).exists()
    # An open incident keeps everything, however old.
    assert still_open.description == "Threats over chat." and still_open.screenshots.get().blob is not None
    assert run_class(policy, now=T0 + 800 * DAY).purged == 0
