"""Batch intake hands its audit events to record_encoded with their JSON written by hand: it must be the
canonical JSON verify recomputes each hash from, with the same content as before."""

from __future__ import annotations

import pytest

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, canonical_json, verify
from hotline.reports.services import IncomingReport, receive_reports

pytestmark = pytest.mark.django_db


def test_intake_events_carry_canonical_json_and_verify() -> None:
    receive_reports([IncomingReport(source="public", urls=["http://a.sim.test/x"])], actor=SYSTEM)
    results = receive_reports(
        [
            IncomingReport(
                source="partner", urls=['http://ÄÖ.sim.test/"q\\', "HTTP://A.sim.test/x", "mailto:x@y.example"]
            ),
            IncomingReport(source="police", urls=["http://b.sim.test/?q=ü", "http://b.sim.test/?q=ü"]),
        ],
        actor=SYSTEM,
    )
    events = list(AuditEvent.objects.order_by("seq"))
    # Content as the Change-based writer gave it.
    by_report = {(e.object_type, e.object_id): e.after for e in events if e.action == "report.received"}
    first, second = results
    assert by_report[("reports.report", str(first.report_id))] == {"source": "partner", "urls": 2}
    assert by_report[("reports.report", str(second.report_id))] == {"source": "police", "urls": 2}
    created = [e for e in events if e.action == "item.created"]
    added = [e for e in events if e.action == "item.report_added"]
    new_url = first.urls[0]
    assert {"url": new_url.canonical_url, "report": first.reference} in [e.after for e in created]
    assert [(e.object_id, e.after) for e in added] == [(str(first.urls[1].item_id), {"report": first.reference})]
    # The text hashed is the canonical encoding of what was stored: verify recomputes every hash from it.
    for event in events:
        assert event.before is None
        assert event.compute_hash() == event.hash, canonical_json(event.after)
    assert verify().ok
