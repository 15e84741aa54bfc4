"""Outbound messages: forward_item and send_status queue rows; exchange_step delivers them to a
simulated partner on loopback, with retries, backoff, leases and final failures."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.services import assess_item, claim_item
from hotline.assessment.tests.test_workflow import CLEAR, NOT_ILLEGAL
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.partners import delivery
from hotline.partners.delivery import HttpTransport, Reply, claim_due
from hotline.partners.models import Forward, InboundForward, OutboundMessage
from hotline.partners.services import (
    ExchangeError,
    forward_item,
    requeue,
    save_hotline,
    send_status,
)
from hotline.partners.steps import exchange_step, verdict_status_step
from hotline.partners.tests.conftest import MakeItem, Peer, SimPartner, forward_body, post
from hotline.reports.models import Item
from hotline.tracing.models import Provider, Trace

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.get_current_timezone())


def _trace(item: Item) -> Trace:
    host = Provider.objects.create(name="Example Hosting NL", country="NL")
    cdn = Provider.objects.create(name="Example CDN", country="US", is_cdn=True)
    return Trace.objects.create(
        item=item, traced_at=NOW, host=item.host, outcome="ok", country="NL", provider=host, cdn=cdn,
        addresses=[{"ip": "203.0.113.7", "asn": 64500, "as_name": "EXAMPLE", "country_signals": {"iptocc": "NL"},
                    "provider": host.name, "rtt": 0.25}], origin_address="198.51.100.9")


def test_a_forward_carries_url_trace_codes_and_hashes_never_bytes(
        peer: Peer, make_item: MakeItem, make_media: MakeItem, analyst: User) -> None:
    item: Item = make_item()
    media = make_media(item, seed=3)
    claim_item(item, user=analyst)
    assess_item(item, CLEAR, user=analyst)
    forward = forward_item(item, peer.hotline, trace=_trace(item), actor=SYSTEM, now=NOW)
    body = forward.message.body
    assert body["url"] == item.canonical_url and body["reference"] == f"item-{item.pk}"
    assert body["trace"] == {
        "host": item.host, "country": "NL", "traced_at": "2026-03-01T12:00:00.000000Z",
        "addresses": [{"ip": "203.0.113.7", "asn": 64500, "as_name": "EXAMPLE", "country_signals": {"iptocc": "NL"},
                       "provider": "Example Hosting NL"}],
        "provider": "Example Hosting NL", "cdn": "Example CDN", "origin_address": "198.51.100.9"}
    assert body["assessment"]["verdict"] == "baseline" and body["assessment"]["scheme"] == "hotline/1"
    assert body["assessment"]["legal_limb"] == "real_minor" and "notes" not in body["assessment"]
    assert body["media"] == [{"sha256": media.sha256}]
    assert "data" not in json.dumps(body) and forward.status == "queued"
    assert forward.message.next_attempt_at == NOW and forward.message.state == "pending"
    assert AuditEvent.objects.filter(action="forward.created", object_id=str(forward.pk)).exists()


def test_forwarding_twice_returns_the_first_forward(peer: Peer, make_item: MakeItem) -> None:
    item = make_item()
    first = forward_item(item, peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    second = forward_item(item, peer.hotline, trace=None, actor=SYSTEM, now=NOW + timedelta(hours=1))
    assert first.pk == second.pk and OutboundMessage.objects.count() == 1


def test_a_partner_without_endpoint_or_key_cannot_be_forwarded_to(peer: Peer, make_item: MakeItem) -> None:
    save_hotline({"endpoint": ""}, actor=SYSTEM, hotline=peer.hotline)
    with pytest.raises(ExchangeError, match="no exchange endpoint"):
        forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    assert not Forward.objects.exists() and not OutboundMessage.objects.exists()


def test_the_worker_delivers_and_the_ack_marks_the_forward_received(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None) -> None:
    forward = forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    assert exchange_step(now=NOW) is True
    assert exchange_step(now=NOW) is False
    [sent] = sim_partner.received
    assert sim_partner.verified == [True]
    assert (sent["id"], sent["kind"], sent["sender"], sent["recipient"]) == (
        str(forward.message.message_id), "forward", "be-hotline", "nl-sim")
    forward.refresh_from_db()
    forward.message.refresh_from_db()
    assert forward.status == "received" and forward.partner_reference == "NL-REF-1"
    assert forward.message.state == "delivered" and forward.message.next_attempt_at is None
    assert [e.status for e in forward.events.all()] == ["received"]


def test_a_partner_that_is_down_gets_retries_with_growing_delays(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None) -> None:
    forward = forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    sim_partner.mode = "status:503"
    exchange_step(now=NOW)
    message = OutboundMessage.objects.get()
    assert (message.state, message.attempts, message.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=30))
    assert "HTTP 503" in message.last_error
    assert exchange_step(now=NOW + timedelta(seconds=29)) is False
    sim_partner.mode = "drop"
    exchange_step(now=NOW + timedelta(seconds=30))
    message.refresh_from_db()
    assert message.attempts == 2 and message.next_attempt_at == NOW + timedelta(seconds=90)
    sim_partner.mode = "ack"
    exchange_step(now=NOW + timedelta(seconds=90))
    ids = {m["id"] for m in sim_partner.received}
    assert ids == {str(forward.message.message_id)} and len(sim_partner.received) == 2  # "drop" records nothing
    forward.refresh_from_db()
    assert forward.status == "received"


def test_backoff_doubles_up_to_the_cap() -> None:
    """The outbox's one back-off policy, with the exchange's base and cap from settings (30 s, 6 h)."""
    assert [OutboundMessage(attempts=n).retry_delay().total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert OutboundMessage(attempts=40).retry_delay() == timedelta(hours=6)


@pytest.mark.parametrize("mode", ["status:400", "status:401", "status:409"])
def test_a_refusal_is_final_and_a_manager_can_send_it_again(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None, mode: str) -> None:
    forward = forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    sim_partner.mode = mode
    exchange_step(now=NOW)
    message = OutboundMessage.objects.get()
    assert (message.state, message.next_attempt_at) == ("failed", None)
    assert AuditEvent.objects.filter(action="exchange.failed").count() == 1
    requeue(message, actor=SYSTEM, now=NOW + timedelta(days=1))
    sim_partner.mode = "ack"
    exchange_step(now=NOW + timedelta(days=1))
    assert [m["id"] for m in sim_partner.received] == [str(forward.message.message_id)] * 2
    forward.refresh_from_db()
    assert forward.status == "received"


def test_a_refusal_of_our_clock_is_retried_with_a_fresh_sent_at(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None) -> None:
    forward = forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    sim_partner.mode = "clock_ahead"  # the partner's clock is an hour off: it refuses our sent_at (409)
    exchange_step(now=NOW)
    message = OutboundMessage.objects.get()
    assert (message.state, message.attempts) == ("pending", 1), message.last_error
    assert "HTTP 409" in message.last_error and "message.sent_at" in message.last_error
    sim_partner.mode = "ack"  # the clocks agree again
    exchange_step(now=NOW + timedelta(seconds=30))
    forward.refresh_from_db()
    assert forward.status == "received"
    first, second = sim_partner.received
    assert first["id"] == second["id"]  # the same message, signed again with the time of its new attempt


@pytest.mark.parametrize("mode", ["bad_ack", "wrong_ref"])
def test_an_answer_that_is_no_valid_ack_is_retried(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None, mode: str) -> None:
    forward = forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    sim_partner.mode = mode
    exchange_step(now=NOW)
    message = OutboundMessage.objects.get()
    assert message.state == "pending" and "ack" in message.last_error
    forward.refresh_from_db()
    assert forward.status == "queued"


@override_settings(HOTLINE_EXCHANGE_MAX_ATTEMPTS=2)
def test_it_gives_up_after_the_last_attempt(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None) -> None:
    forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    sim_partner.mode = "status:500"
    exchange_step(now=NOW)
    exchange_step(now=NOW + timedelta(minutes=1))
    message = OutboundMessage.objects.get()
    assert (message.state, message.attempts) == ("failed", 2)


def test_a_crash_after_sending_resends_the_same_id_after_the_lease(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None) -> None:
    forward = forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)

    class CrashAfterPost:
        def post(self, url: str, body: bytes) -> Reply:
            HttpTransport(timeout=5, allow_loopback=True).post(url, body)
            raise SystemExit("the worker died after the partner answered")

    with pytest.raises(SystemExit):
        exchange_step(now=NOW, transport=CrashAfterPost())
    assert exchange_step(now=NOW + delivery.LEASE - timedelta(seconds=1)) is False  # still leased
    assert exchange_step(now=NOW + delivery.LEASE) is True
    assert [m["id"] for m in sim_partner.received] == [str(forward.message.message_id)] * 2
    assert sim_partner.received[0]["created_at"] == sim_partner.received[1]["created_at"]
    forward.refresh_from_db()
    assert forward.status == "received"


def test_a_taken_message_is_not_taken_twice(peer: Peer, make_item: MakeItem) -> None:
    forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    assert len(claim_due(NOW, 10)) == 1
    assert claim_due(NOW, 10) == []


@pytest.mark.parametrize("finished", ["delivered", "failed"])
def test_a_late_failure_after_another_worker_finished_the_message_changes_nothing(
        peer: Peer, make_item: MakeItem, finished: str) -> None:
    """A worker whose lease ran out reports its failure after the worker that took over delivered the
    message or gave it up: a failed message is not put back into the queue by the late retry."""
    forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    [late] = claim_due(NOW, 10)
    OutboundMessage.objects.update(state=finished, next_attempt_at=None, last_error="")
    assert late.retry_or_fail_unless_done("timeout", retry=True, max_attempts=30, now=NOW) is None
    message = OutboundMessage.objects.get()
    assert (message.state, message.last_error, message.next_attempt_at) == (finished, "", None)


def test_loopback_endpoints_are_refused_unless_simulating(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem) -> None:
    forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=NOW)
    exchange_step(now=NOW)
    message = OutboundMessage.objects.get()
    assert message.state == "failed" and "refused" in message.last_error and sim_partner.received == []


# ------------------------------------------------------------------ statuses we send


def _received_forward(peer: Peer, url: str = "http://files.hosting.sim.test/a/1.html") -> InboundForward:
    response = post(peer.seal(peer.message("forward", forward_body(url))))
    assert response.status_code == 200, response.content
    return InboundForward.objects.get(item__canonical_url=url)


def test_send_status_queues_one_message_per_forward_received(peer: Peer) -> None:
    inbound = _received_forward(peer)
    assert send_status(inbound.item, "notice_sent", now=NOW, note="notice to Example Hosting") == 1
    message = OutboundMessage.objects.get(kind="status")
    assert message.partner == peer.hotline and message.next_attempt_at == NOW
    assert message.body == {"forward_id": str(inbound.message_id), "status": "notice_sent",
                            "at": "2026-03-01T12:00:00.000000Z", "note": "notice to Example Hosting"}
    with pytest.raises(ValueError, match="status 'gone'"):
        send_status(inbound.item, "gone", now=NOW)


def test_send_status_for_an_item_no_partner_sent_queues_nothing(make_item: MakeItem) -> None:
    assert send_status(make_item(), "removed", now=NOW) == 0
    assert not OutboundMessage.objects.exists()


def test_a_verdict_on_a_partner_item_is_reported_once_per_verdict(peer: Peer, analyst: User,
                                                                    senior: User) -> None:
    inbound = _received_forward(peer)
    assert verdict_status_step(now=NOW) is False  # not assessed yet
    item = inbound.item
    item.status, item.next_capture_at = "captured", None
    item.save(update_fields=["status", "next_capture_at"])  # test set-up: skip the capture worker
    claim_item(item, user=analyst)
    assess_item(item, CLEAR, user=analyst)
    assert verdict_status_step(now=NOW) is True
    assert verdict_status_step(now=NOW) is False
    statuses = [(m.body["status"], m.body["note"]) for m in OutboundMessage.objects.filter(kind="status")]
    assert statuses == [("assessed", "")]
    from hotline.assessment.services import request_review, review_item

    request_review(item, user=senior, reason="second look")
    claim_item(item, user=senior)
    review_item(item, NOT_ILLEGAL, user=senior, now=timezone.now() + timedelta(minutes=1))
    assert verdict_status_step(now=NOW) is True
    statuses = [(m.body["status"], m.body["note"]) for m in OutboundMessage.objects.filter(kind="status")
                .order_by("pk")]
    assert statuses == [("assessed", ""), ("not_illegal", "verdict: not_illegal")]
    assert AuditEvent.objects.filter(action="exchange.verdict_reported").count() == 2


def test_statuses_reach_the_partner(peer: Peer, sim_partner: SimPartner, loopback: None) -> None:
    inbound = _received_forward(peer)
    send_status(inbound.item, "removed", now=NOW)
    exchange_step(now=NOW)
    [sent] = sim_partner.received
    assert sent["kind"] == "status" and sent["body"]["forward_id"] == str(inbound.message_id)
    assert OutboundMessage.objects.get(kind="status").state == "delivered"
    assert uuid.UUID(sent["id"])


@pytest.mark.django_db(transaction=True)
def test_messages_go_out_in_parallel_but_statuses_of_one_forward_keep_their_order(
        peer: Peer, sim_partner: SimPartner, loopback: None) -> None:
    items = [_received_forward(peer, f"http://files.hosting.sim.test/a/{n}.html").item for n in range(3)]
    for item in items:
        send_status(item, "assessed", now=NOW)
        send_status(item, "removed", now=NOW)
    sim_partner.mode = "refuse_assessed"
    assert exchange_step(now=NOW, concurrency=3) is True
    assert sim_partner.received and {m["body"]["status"] for m in sim_partner.received} == {"assessed"}
    waiting = OutboundMessage.objects.filter(state="pending").order_by("pk")
    assert [(m.body["status"], m.attempts) for m in waiting] == [("assessed", 1), ("removed", 0)] * 3
    assert len({m.next_attempt_at for m in waiting}) == 1  # the later status is due with, never before
    sim_partner.mode = "ack"
    sim_partner.received.clear()
    exchange_step(now=NOW + timedelta(seconds=30), concurrency=3)
    assert OutboundMessage.objects.filter(state="delivered").count() == 6
    for item in items:
        forward_id = str(item.inbound_forwards.get().message_id)
        order = [m["body"]["status"] for m in sim_partner.received if m["body"]["forward_id"] == forward_id]
        assert order == ["assessed", "removed"]


def test_a_forward_leaves_out_the_files_classified_not_illegal(
        peer: Peer, make_item: MakeItem, make_media: MakeItem, analyst: User) -> None:
    from hotline.assessment.services import AssessmentData, MediaData

    item: Item = make_item()
    bad, banner = make_media(item, seed=3), make_media(item, seed=4)
    claim_item(item, user=analyst)
    assess_item(item, AssessmentData(verdict="", media=(
        MediaData(bad.pk, "baseline", legal_limb="real_minor", content_type="image", age_group="prepubescent"),
        MediaData(banner.pk, "not_illegal", reason="other"))), user=analyst)
    body = forward_item(item, peer.hotline, trace=None, actor=SYSTEM, now=NOW).message.body
    assert body["media"] == [{"sha256": bad.sha256}]
    assert (body["assessment"]["verdict"], body["assessment"]["age_group"]) == ("baseline", "prepubescent")
