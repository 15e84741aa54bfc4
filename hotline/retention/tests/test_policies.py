"""Each data class purges exactly what is due, keeps what statistics need, and says what it destroyed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from hotline.assessment.models import Assessment
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, verify
from hotline.evidence.backends import storage_from_settings
from hotline.evidence.models import Blob, Capture, Media
from hotline.evidence.store import put_blob
from hotline.partners.models import InboundForward, InboundMessage, OutboundMessage, PartnerHotline
from hotline.reports.models import Item, Report, Source
from hotline.reports.services import IncomingReport, receive_reports
from hotline.retention import registry
from hotline.retention.models import PurgedObject
from hotline.retention.policy import sha256_text
from hotline.retention.records import canonical
from hotline.retention.services import run_class
from hotline.retention.steps import retention_step
from hotline.retention.tests.conftest import DAY, T0, Settle, audit_after
from hotline.routing.models import Decision
from hotline.takedown.models import Notice
from hotline.tracing.models import AbuseContact, Trace

pytestmark = pytest.mark.django_db


def run(name: str, at: Any) -> int:
    return run_class(registry.policy(name), now=at).purged


# ---------------------------------------------------------------- media and WARC files

def test_it_destroys_media_of_a_not_illegal_item_after_90_days_and_keeps_the_hashes(
        settled: Settle, media_of: Callable[..., Media], illegal_open: Callable[[], Item],
        django_capture_on_commit_callbacks: Any) -> None:
    media = media_of(settled("not_illegal", at=T0))
    kept = media_of(illegal_open())
    blob = media.blob
    assert blob is not None
    path_exists = storage_from_settings().exists

    assert run("media", T0 + 90 * DAY - timedelta(seconds=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert run("media", T0 + 90 * DAY) == 1

    media.refresh_from_db()
    assert media.blob is None and media.sha256 == blob.sha256 and media.size > 0 and media.width == 320
    assert not Blob.objects.filter(pk=blob.pk).exists() and not path_exists(blob.storage_name)
    marker = PurgedObject.objects.get(data_class="media", object_id=media.pk)
    assert marker.sha256 == blob.sha256 and marker.purged_at == T0 + 90 * DAY
    kept.refresh_from_db()
    assert kept.blob is not None and path_exists(kept.blob.storage_name)


@pytest.mark.parametrize("how", ["removed", "closed"])
def test_it_starts_the_media_clock_at_removal_or_closing(how: str, settled: Settle,
                                                        media_of: Callable[..., Media]) -> None:
    media = media_of(settled(how, at=T0 + 10 * DAY))
    assert run("media", T0 + 99 * DAY) == 0
    assert run("media", T0 + 100 * DAY) == 1
    media.refresh_from_db()
    assert media.blob_id is None


def test_it_keeps_a_blob_another_item_still_uses(settled: Settle, illegal_open: Callable[[], Item],
                                                 media_of: Callable[..., Media]) -> None:
    due = media_of(settled("not_illegal"), seed=7)
    still_needed = media_of(illegal_open(), seed=7)
    assert due.blob_id == still_needed.blob_id, "same content, one blob"

    assert run("media", T0 + 91 * DAY) == 1

    due.refresh_from_db()
    still_needed.refresh_from_db()
    assert due.blob_id is None and still_needed.blob_id is not None
    [after] = audit_after("retention.purged")
    assert after["blobs_destroyed"] == 0 and after["blobs_still_used"] == 1 and after["digests"] == []


def test_it_keeps_a_blob_that_is_still_the_warc_of_another_capture(
        settled: Settle, illegal_open: Callable[[], Item], media_of: Callable[..., Media]) -> None:
    media = media_of(settled("not_illegal"), seed=11)
    other = illegal_open()
    Capture.objects.create(item=other, started_at=T0, finished_at=T0, outcome="captured",
                           requested_url=other.canonical_url, warc=media.blob)

    assert run("media", T0 + 91 * DAY) == 1

    assert media.blob is not None
    assert Blob.objects.filter(pk=media.blob.pk).exists(), "Capture.warc (a hidden relation) still uses it"


def test_it_destroys_warc_files_and_keeps_the_capture(settled: Settle) -> None:
    item = settled("not_illegal")
    warc = put_blob(b"WARC/1.1 synthetic capture record")
    capture = Capture.objects.create(item=item, started_at=T0, finished_at=T0, outcome="captured",
                                     requested_url=item.canonical_url, final_url=item.canonical_url,
                                     http_status=200, peer_ip="192.0.2.1", warc=warc)

    assert run("warc", T0 + 91 * DAY) == 1

    capture.refresh_from_db()
    assert capture.warc_id is None and capture.http_status == 200 and capture.started_at == T0
    assert not Blob.objects.filter(pk=warc.pk).exists()
    [after] = audit_after("retention.purged")
    assert after["digests"] == [warc.sha256] and after["bytes_destroyed"] == warc.size


def test_the_screenshot_and_text_extract_go_with_the_warc(settled: Settle) -> None:
    item = settled("not_illegal")
    warc, shot = put_blob(b"WARC/1.1 another synthetic record"), put_blob(b"\x89PNG synthetic screenshot")
    capture = Capture.objects.create(item=item, started_at=T0, finished_at=T0, outcome="captured",
                                     requested_url=item.canonical_url, final_url=item.canonical_url,
                                     http_status=200, peer_ip="192.0.2.1", warc=warc, screenshot=shot,
                                     page_title="Synthetic", page_text="synthetic text", page_links="http://x.sim.test/")

    assert run("warc", T0 + 91 * DAY) == 1

    capture = Capture.objects.get(pk=capture.pk)
    assert (capture.warc_id, capture.screenshot_id, capture.page_title, capture.page_text, capture.link_list) == (
        None, None, "", "", [])
    assert not Blob.objects.filter(pk__in=[warc.pk, shot.pk]).exists()


def test_previews_are_never_stored_so_nothing_is_purged(settled: Settle, media_of: Callable[..., Media]) -> None:
    media_of(settled("not_illegal"))
    policy = registry.policy("previews")
    assert not policy.destructive and policy.due(T0 + 1000 * DAY).count() == 0
    assert run("previews", T0 + 1000 * DAY) == 0


# ---------------------------------------------------------------- rows anonymised

def test_it_anonymises_reporter_contact_after_180_days_and_keeps_the_report(db: None) -> None:
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=["http://a.sim.test/x"],
                                    reporter_contact="reporter@mail.example", text="synthetic")],
                    actor=SYSTEM, now=T0)
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=["http://b.sim.test/x"],
                                    reporter_contact="later@mail.example")], actor=SYSTEM, now=T0 + 5 * DAY)

    assert run("reporter_contact", T0 + 180 * DAY) == 1

    early, late = Report.objects.order_by("received_at")
    assert early.reporter_contact == "" and early.received_at == T0 and early.reference.startswith("HL-")
    assert early.items.count() == 1
    assert late.reporter_contact == "later@mail.example"
    [after] = audit_after("retention.purged")
    assert after["digests"] == [sha256_text(canonical(["reporter@mail.example"]))]
    assert after["objects"] == [early.pk]


def test_it_clears_report_descriptions_after_a_year_and_keeps_the_report(db: None) -> None:
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=["http://a.sim.test/x"], text="Synthetic words.",
                                    reporter_contact="reporter@mail.example")], actor=SYSTEM, now=T0)
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=["http://b.sim.test/x"], text="Later words.")],
                    actor=SYSTEM, now=T0 + 5 * DAY)

    assert run("report_text", T0 + 364 * DAY) == 0
    assert run("report_text", T0 + 365 * DAY) == 1

    early, late = Report.objects.order_by("received_at")
    assert early.text == "" and early.reference.startswith("HL-") and early.items.count() == 1
    assert early.reporter_contact == "reporter@mail.example", "another class, another clock"
    assert late.text == "Later words."
    [after] = audit_after("retention.purged")
    assert after["digests"] == [sha256_text(canonical(["Synthetic words."]))] and after["objects"] == [early.pk]
    assert run("report_text", T0 + 400 * DAY) == 1  # the later one; the cleared one is not purged twice


def test_it_clears_assessment_notes_and_keeps_every_code(make_item: Callable[..., Item]) -> None:
    item = make_item()
    old = Assessment.objects.create(item=item, created_at=T0, verdict="baseline", legal_limb="real_minor",
                                    age_group="prepubescent", site_type="image_host", notes="free text")
    recent = Assessment.objects.create(item=make_item(), created_at=T0 + 30 * DAY, verdict="not_illegal",
                                       notes="recent note")
    Assessment.objects.create(item=make_item(), created_at=T0, verdict="not_illegal", notes="")

    assert run("assessment_notes", T0 + 365 * DAY) == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.notes == "" and (old.verdict, old.legal_limb, old.age_group, old.site_type) == (
        "baseline", "real_minor", "prepubescent", "image_host")
    assert recent.notes == "recent note"


def test_it_anonymises_notices_once_sent_and_leaves_those_still_queued(make_item: Callable[..., Item]) -> None:
    contact = AbuseContact.objects.create(email="abuse@host.example")
    sent = Notice.objects.create(kind="first", contact=contact, channel="email", recipient="owner@site.example",
                                 language="en", state="sent", created_at=T0, sent_at=T0, bounce_reason="x")
    queued = Notice.objects.create(kind="first", role="upstream", contact=contact, channel="email",
                                   recipient="abuse@host.example", language="en", state="queued", created_at=T0)

    assert run("notices", T0 + 365 * DAY) == 1
    assert run("notices", T0 + 400 * DAY) == 0, "a purged notice is not purged twice"

    sent.refresh_from_db()
    queued.refresh_from_db()
    assert (sent.recipient, sent.bounce_reason, sent.sent_at, sent.state) == ("", "", T0, "sent")
    assert queued.recipient == "abuse@host.example"


def test_it_stubs_partner_message_bodies_keeping_their_hash(make_item: Callable[..., Item]) -> None:
    partner = PartnerHotline.objects.create(code="hotline-nl", name="Hotline NL", countries=["NL"])
    body = {"url": "http://x.sim.test/", "sha256": "a" * 64}
    out = OutboundMessage.objects.create(key="00000000-0000-0000-0000-000000000001", partner=partner,
                                         kind="forward", body=body, created_at=T0, state="delivered",
                                         next_attempt_at=None, delivered_at=T0, answer={"ok": True})
    pending = OutboundMessage.objects.create(key="00000000-0000-0000-0000-000000000002", partner=partner,
                                             kind="status", body=body, created_at=T0, next_attempt_at=T0)
    inbound = InboundMessage.objects.create(received_at=T0, partner=partner, outcome="bad_schema",
                                            http_status=400, field="items[0].url", detail="not a URL",
                                            message={"items": [{"url": "nope"}]}, answer='{"error": "x"}')
    item = make_item()
    forward_in = InboundForward.objects.create(partner=partner, message_id="00000000-0000-0000-0000-000000000003",
                                               report=item.reports.get(), item=item, reference="NL-1",
                                               body=body, received_at=T0)

    at = T0 + 365 * DAY
    assert (run("partner_outbound", at), run("partner_inbound", at), run("partner_forwards", at)) == (1, 1, 1)

    for row in (out, pending, inbound, forward_in):
        row.refresh_from_db()
    stub = {"purged": True, "sha256": sha256_text(canonical(body))}
    assert out.body == stub and out.answer is None and out.delivered_at == T0
    assert pending.body == body
    assert inbound.message is None and inbound.detail == "" and inbound.field == "items[0].url"
    assert inbound.answer == '{"error": "x"}', "our answer stays: a resend is answered the same"
    assert forward_in.body == stub and forward_in.reference == "NL-1"


# ---------------------------------------------------------------- trace thinning

def test_it_thins_trace_snapshots_keeping_first_latest_changes_and_cited(make_item: Callable[..., Item]) -> None:
    item = make_item()

    def trace(day: int, country: str, changed: bool = False) -> Trace:
        return Trace.objects.create(item=item, traced_at=T0 + day * DAY, host=item.host, outcome="ok",
                                    country=country, changed=changed)

    first, repeat1, cited, moved, repeat2, latest = (
        trace(0, "BE"), trace(1, "BE"), trace(2, "BE"), trace(3, "NL", changed=True), trace(4, "NL"), trace(200, "NL"))
    Decision.objects.create(item=item, trace=cited, decided_at=T0 + 2 * DAY, route="domestic")
    countries_before = list(Trace.objects.filter(item=item).order_by("traced_at").values_list("country", flat=True))

    assert run("trace_snapshots", T0 + 94 * DAY) == 2

    left = set(Trace.objects.filter(item=item).values_list("pk", flat=True))
    assert left == {first.pk, cited.pk, moved.pk, latest.pk}
    assert not {repeat1.pk, repeat2.pk} & left
    countries_after = list(Trace.objects.filter(item=item).order_by("traced_at").values_list("country", flat=True))
    assert _changes(countries_after) == _changes(countries_before) == ["BE", "NL"]


def _changes(countries: list[str]) -> list[str]:
    return [c for i, c in enumerate(countries) if i == 0 or countries[i - 1] != c]


# ---------------------------------------------------------------- audit events

def test_it_never_deletes_audit_events_and_reports_their_age(settled: Settle) -> None:
    with time_machine.travel(T0, tick=False):
        settled("not_illegal")
    events = AuditEvent.objects.count()
    later = T0 + 3651 * DAY

    with time_machine.travel(later, tick=False):
        retention_step()

    assert AuditEvent.objects.filter(at__lte=T0).count() == events
    [report] = audit_after("retention.age_reported")
    assert report["count"] == events and report["older_than"] == "3650d"
    assert verify().ok
