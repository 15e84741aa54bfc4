from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.reports.models import Item
from hotline.routing.models import Decision
from hotline.sim.dns import SimDns
from hotline.sim.providers import ProviderApi
from hotline.sim.smtp import SmtpSink
from hotline.takedown import xarf
from hotline.takedown.models import ContactPolicy, Notice, NoticeKind, NoticeState, Takedown
from hotline.takedown.render import message_id
from hotline.takedown.services import claim_notice, deliver
from hotline.takedown.steps import notice_step
from hotline.takedown.tests.conftest import MOVED_TO_IP, MakeContact, MakeTraced
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def _send_all(now: datetime) -> None:
    while notice_step(now=now):
        pass


def test_it_batches_items_per_contact_and_sends_after_the_window(
    make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    now = timezone.now()
    first, other = make_contact("First BV"), make_contact("Other BV")
    items = [traced_item(first, due=now), traced_item(first, due=now), traced_item(other, due=now)]
    assert notice_step(now=now) is True
    assert not Decision.objects.filter(notice_due_at__isnull=False).exists()  # routing: taken
    assert set(Notice.objects.values_list("state", flat=True)) == {NoticeState.BATCHING}
    assert smtp.messages() == []
    _send_all(now + 61 * timedelta(minutes=1))
    notices = {n.contact_id: n for n in Notice.objects.all()}
    assert notices[first.pk].lines.count() == 2 and notices[other.pk].lines.count() == 1
    received = smtp.wait_for(2)
    assert sorted(m.recipients[0] for m in received) == sorted([first.email, other.email])
    assert {m.message_id for m in received} == {message_id(n) for n in notices.values()}
    body = next(m for m in received if m.recipients == [first.email]).text()
    assert items[0].canonical_url in body and items[1].canonical_url in body and "198.51.100.7" in body
    assert "/takedown/respond/?t=n:" in body and "Legal basis:" in body
    takedown = Takedown.objects.get(item=items[0])
    assert takedown.first_notice_at == now + 61 * timedelta(minutes=1)
    assert takedown.next_notice_at == takedown.first_notice_at + timedelta(hours=23)
    assert AuditEvent.objects.filter(action="takedown.notice_sent", object_type="reports.item").count() == 3
    assert verify().ok


@pytest.mark.parametrize(("language", "words"), [
    ("en", ["notice", "child sexual abuse material", "Requested action", "Legal basis"]),
    ("nl", ["melding", "beelden van seksueel misbruik van minderjarigen", "Gevraagde actie", "Rechtsgrond"]),
    ("fr", ["signalement", "images d'abus sexuels de mineurs", "Action demandée", "Base légale"]),
    ("de", ["Hinweis", "Darstellungen sexuellen Missbrauchs von Kindern", "Erbetene Maßnahme", "Rechtsgrundlage"]),
])
def test_it_writes_the_notice_in_the_contacts_language(
    make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink, language: str, words: list[str]
) -> None:
    now = timezone.now()
    traced_item(make_contact(language=language), due=now)
    _send_all(now + 2 * HOUR)
    [received] = smtp.wait_for(1)
    text = str(received.message["Subject"]) + "\n" + received.text()
    for word in words:
        assert word in text
    if language in ("nl", "fr"):
        assert f"/{language}/takedown/respond/" in text  # the public page opens in their language too


def test_the_xarf_attachment_validates_and_carries_urls_and_hashes_only(
    contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, make_media: Any
) -> None:
    now = timezone.now()
    with_media = traced_item(contact, due=now)
    media = [make_media(with_media, seed=1), make_media(with_media, seed=2)]
    without = traced_item(contact, due=now, verdict="national")
    _send_all(now + 2 * HOUR)
    [received] = smtp.wait_for(1)
    [(name, raw)] = received.attachments().items()
    assert name.startswith("xarf-N-") and name.endswith(".json")
    documents = json.loads(raw)
    assert len(documents) == 3
    for document in documents:
        assert xarf.errors(document) == [], document
        assert "evidence" not in document and (document["category"], document["type"]) == ("content", "csam")
    by_url = {d["url"]: d for d in documents if "hash_values" not in d}
    assert by_url[without.canonical_url]["tags"][0] == "verdict:national"
    hashed = [d for d in documents if "hash_values" in d]
    assert {d["hash_values"]["sha256"] for d in hashed} == {m.sha256 for m in media}
    assert all(d["source_identifier"] == "198.51.100.7" and d["url"] == with_media.canonical_url for d in hashed)
    assert len(raw) < 20_000  # hashes and URLs, never the image bytes


def test_the_validator_rejects_what_the_schema_rejects() -> None:
    good = {"xarf_version": "4.0.0", "report_id": "6f3f5a4e-2a55-4a0e-9b0d-6b7a1f0e4c11",
            "timestamp": "2026-01-02T03:04:05Z", "category": "content", "type": "csam",
            "reporter": {"org": "Hotline", "contact": "h@hotline.example", "domain": "hotline.example"},
            "sender": {"org": "Hotline", "contact": "h@hotline.example", "domain": "hotline.example"},
            "source_identifier": "198.51.100.7", "url": "http://a.example/x", "classification": "baseline",
            "detection_method": "manual_review"}
    assert xarf.errors(good) == []
    broken = {**good, "classification": "national", "report_id": "not-a-uuid", "timestamp": "yesterday"}
    del broken["url"]
    problems = " ".join(xarf.errors(broken))
    for field in ("classification", "report_id", "timestamp", "url"):
        assert field in problems


def test_a_resend_after_a_dead_sender_is_the_same_message(
    contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, settings: Any
) -> None:
    settings.HOTLINE_TAKEDOWN_SEND_LEASE_SECONDS = 60
    now = timezone.now()
    traced_item(contact, due=now)
    notice_step(now=now)
    at = now + 2 * HOUR
    claimed = claim_notice(at)  # a worker claims it ... and dies before sending
    assert claimed is not None and claimed.state == NoticeState.SENDING
    assert claim_notice(at + timedelta(seconds=30)) is None  # the lease still holds
    again = claim_notice(at + timedelta(seconds=61))
    assert again is not None and again.pk == claimed.pk and again.attempts == 2
    deliver(again, now=at + timedelta(seconds=61))
    [received] = smtp.wait_for(1)
    assert received.message_id == f"<notice-{claimed.key}@hotline.invalid>"
    assert AuditEvent.objects.filter(action="takedown.notice_lease_expired").count() == 1
    assert Notice.objects.get().state == NoticeState.SENT


def test_a_temporary_failure_is_retried_and_a_permanent_one_gives_up(
    make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    now = timezone.now()
    item = traced_item(make_contact(), due=now)
    notice_step(now=now)
    smtp.fail_with = "451 4.3.0 try again later"
    _send_all(now + 2 * HOUR)
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts) == (NoticeState.QUEUED, 1) and "451" in notice.last_error
    assert notice.next_attempt_at == now + 2 * HOUR + timedelta(minutes=2)
    smtp.fail_with = "550 5.1.1 no such mailbox"
    _send_all(now + 3 * HOUR)
    notice.refresh_from_db()
    assert notice.state == NoticeState.FAILED and "550" in notice.last_error
    assert Takedown.objects.get(item=item).managers_flagged_at == now + 3 * HOUR
    assert AuditEvent.objects.filter(action="takedown.notice_failed").count() == 1


def test_a_host_that_moved_is_rerouted_instead_of_noticed(
    make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink, offline_tracing: SimDns
) -> None:
    now = timezone.now()
    old = make_contact("Old Host")
    item = traced_item(old, url="http://moving-host.sim.test/page/1", due=now)
    notice_step(now=now)
    offline_tracing.set(item.host, A=[MOVED_TO_IP])  # the name now points into the new host's network
    try:
        _send_all(now + 2 * HOUR)
    finally:
        offline_tracing.remove(item.host)
    first = Notice.objects.get(contact=old)
    assert first.state == NoticeState.CANCELLED
    assert "host moved" in first.lines.get().drop_reason
    current = Decision.objects.current().get(item=item)
    assert current.trace is not None and current.trace.abuse_contact is not None
    new = current.trace.abuse_contact  # found by the real tracer: the RDAP abuse contact of the new network
    assert new.email == "abuse@sim-be.example"
    takedown = Takedown.objects.get(item=item)
    assert takedown.contact_id == new.pk  # the new decision was taken ...
    _send_all(now + 4 * HOUR)  # ... and, after its own batching window, noticed
    [received] = smtp.wait_for(1)
    assert received.recipients == [new.email] and MOVED_TO_IP in received.text()


def test_an_api_contact_gets_xarf_with_the_idempotency_key(
    make_contact: MakeContact, traced_item: MakeTraced, settings: Any, make_media: Any
) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    now = timezone.now()
    with ProviderApi() as api:
        contact = make_contact(channel="api", endpoint=api.url)
        item = traced_item(contact, due=now)
        make_media(item, seed=4)
        api.fail_next(1, 503)
        notice_step(now=now)
        _send_all(now + 2 * HOUR)
        notice = Notice.objects.get()
        assert notice.state == NoticeState.QUEUED and "503" in notice.last_error
        _send_all(now + 3 * HOUR)
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT and notice.delivered_at == now + 3 * HOUR
    [delivery] = api.deliveries
    assert delivery.key == str(notice.key) and delivery.reference == notice.reference
    assert delivery.respond_url.startswith("http://") and "?t=n:" in delivery.respond_url
    assert [xarf.errors(report) for report in delivery.reports] == [[]]


def test_notices_wait_for_the_contacts_sending_window(
    contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    ContactPolicy.objects.create(contact=contact, weekdays=[0, 1, 2, 3, 4], window_start="09:00",
                                 window_end="17:00", timezone="Europe/Brussels", holidays=["2026-12-07"])
    traced_item(contact, due=saturday)
    notice_step(now=saturday)
    notice = Notice.objects.get()
    # Monday the 7th is a holiday: Tuesday 09:00 in Brussels is 08:00 UTC.
    assert notice.next_attempt_at == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    _send_all(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    assert smtp.messages() == []
    _send_all(datetime(2026, 12, 8, 8, 0, tzinfo=UTC))
    assert len(smtp.wait_for(1)) == 1


def test_notices_repeat_on_the_contacts_rhythm_while_the_content_is_online(
    make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    now = timezone.now()
    contact = make_contact(repeat_hours=12)
    item = traced_item(contact, due=now)
    notice_step(now=now)
    sent_at = now + 2 * HOUR
    _send_all(sent_at)
    # the repeat batch opens one batching window (1 h) early and leaves on the rhythm
    assert Takedown.objects.get(item=item).next_notice_at == sent_at + timedelta(hours=11)
    _send_all(sent_at + timedelta(hours=11, minutes=59))
    assert len(smtp.messages()) == 1 and Notice.objects.get(kind=NoticeKind.REPEAT).state == NoticeState.BATCHING
    _send_all(sent_at + timedelta(hours=12))
    received = smtp.wait_for(2)
    repeat = Notice.objects.get(kind=NoticeKind.REPEAT)
    assert repeat.state == NoticeState.SENT and "Reminder 1" in str(received[1].message["Subject"])
    takedown = Takedown.objects.get(item=item)
    assert (takedown.notices_sent, takedown.repeats) == (2, 1)


def test_an_item_without_an_abuse_contact_is_opened_and_flagged_not_lost(
    traced_item: MakeTraced, smtp: SmtpSink
) -> None:
    now = timezone.now()
    item: Item = traced_item(None, due=now)
    assert notice_step(now=now) is True
    takedown = Takedown.objects.get(item=item)
    assert takedown.contact is None and takedown.next_check_at == now
    assert not Notice.objects.exists()
    assert AuditEvent.objects.filter(action="takedown.no_contact", object_id=str(item.pk)).exists()
    assert not Decision.objects.filter(notice_due_at__isnull=False).exists()


def test_the_xarf_attachment_names_only_the_files_classified_illegal(
    contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, make_media: Any
) -> None:
    from hotline.assessment.models import Assessment, MediaAssessment

    now = timezone.now()
    item = traced_item(contact, due=now)
    bad, national, fine = (make_media(item, seed=n) for n in (1, 2, 3))
    assessment = Assessment.objects.create(item=item, created_at=now, is_final=True, verdict="baseline")
    MediaAssessment.objects.bulk_create([
        MediaAssessment(assessment=assessment, media=bad, verdict="baseline"),
        MediaAssessment(assessment=assessment, media=national, verdict="national"),
        MediaAssessment(assessment=assessment, media=fine, verdict="not_illegal", reason="adult_pornography")])
    _send_all(now + 2 * HOUR)
    [received] = smtp.wait_for(1)
    documents = json.loads(next(iter(received.attachments().values())))
    by_hash = {d["hash_values"]["sha256"]: d for d in documents}
    assert set(by_hash) == {bad.sha256, national.sha256}  # the legal file is not named
    assert (by_hash[bad.sha256]["classification"], by_hash[national.sha256]["classification"]) == ("baseline", "B2")
    assert by_hash[national.sha256]["tags"][0] == "verdict:national"
    assert all(xarf.errors(d) == [] for d in documents)
