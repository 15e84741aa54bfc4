from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.urls import reverse
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.evidence.bag import decrypt_bag, verify_bag
from hotline.routing.models import Decision, Referral, ReferralStatus
from hotline.routing.services import RoutingError, record_police_answer, route_item
from hotline.routing.services.referrals import LEASE, _claim, message_id
from hotline.routing.steps import referral_step
from hotline.routing.tests.conftest import MakeTrace

pytestmark = pytest.mark.django_db


@pytest.fixture
def referral_dir(settings: Any, tmp_path: Path) -> Path:
    settings.HOTLINE_REFERRAL_DIR = tmp_path / "referrals"
    settings.HOTLINE_POLICE_RECIPIENT_KEY = ""
    return tmp_path / "referrals"


@pytest.fixture
def domestic(assessed: Any, make_trace: MakeTrace, directory: dict[str, Any], make_media: Any) -> Decision:
    item = assessed("baseline")
    make_media(item, seed=3)
    return route_item(item, trace=make_trace(item, "BE"), now=timezone.now())


def test_it_delivers_a_referral_by_mail_once_with_a_stable_message_id(
        domestic: Decision, smtp: Any, referral_dir: Path) -> None:
    assert referral_step() is True
    assert referral_step() is False
    referral = Referral.objects.get()
    assert referral.status == ReferralStatus.SENT and referral.sent_at is not None
    [mail] = smtp.messages
    assert mail["Message-ID"] == message_id(referral)
    assert mail["To"] == "unit@police.example"
    parts = {part.get_filename(): part for part in mail.walk() if part.get_filename()}
    summary = json.loads(parts["summary.json"].get_payload(decode=True))
    assert summary["items"][0]["url"] == domestic.item.canonical_url
    assert summary["items"][0]["trace"]["country"] == "BE"
    assert summary["package_sha256"] == referral.package_sha256
    assert set(parts) == {"summary.json"}, "an unencrypted package never leaves by mail"
    assert verify_bag(Path(referral.package_path)).ok
    assert AuditEvent.objects.filter(action="routing.referral_sent", object_id=str(domestic.item_id)).count() == 1


def test_with_a_police_key_the_package_travels_encrypted(
        domestic: Decision, smtp: Any, referral_dir: Path, settings: Any, tmp_path: Path) -> None:
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    settings.HOTLINE_POLICE_RECIPIENT_KEY = base64.b64encode(public).decode()
    referral_step()
    [mail] = smtp.messages
    packages = [p for p in mail.walk() if (p.get_filename() or "").endswith(".hlbag")]
    assert len(packages) == 1
    received = tmp_path / "received.hlbag"
    received.write_bytes(packages[0].get_payload(decode=True))
    bag = decrypt_bag(received, tmp_path / "out", private)
    assert verify_bag(bag).ok


def test_a_refused_delivery_is_retried_later_and_sent_once(
        domestic: Decision, smtp: Any, referral_dir: Path) -> None:
    smtp.fail = True
    assert referral_step() is True
    referral = Referral.objects.get()
    assert (referral.status, referral.attempts) == (ReferralStatus.QUEUED, 1)
    assert referral.next_attempt_at is not None and referral.next_attempt_at > timezone.now()
    assert "451" in referral.last_error
    assert referral_step() is False, "not due before its backoff"
    smtp.fail = False
    later = referral.next_attempt_at + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert referral_step() is True
    sent = Referral.objects.get()
    # the move to sent stamps its time, ends the schedule and clears the earlier attempt's error
    assert (sent.status, sent.sent_at, sent.next_attempt_at, sent.last_error, sent.attempts) == (
        ReferralStatus.SENT, later, None, "", 2)
    assert len(smtp.messages) == 1


def test_a_worker_that_died_mid_send_is_replaced_by_a_resend_of_the_same_message(
        domestic: Decision, smtp: Any, referral_dir: Path) -> None:
    claimed = _claim(timezone.now())
    assert claimed is not None and claimed.status == ReferralStatus.SENDING
    assert referral_step() is False, "a leased referral is not taken by another worker"
    with time_machine.travel(timezone.now() + LEASE + timedelta(seconds=1)):
        assert referral_step() is True
    [mail] = smtp.messages
    assert mail["Message-ID"] == message_id(claimed)
    assert Referral.objects.get().attempts == 2


def test_it_posts_to_an_http_channel_with_an_idempotency_key(
        domestic: Decision, referral_dir: Path, directory: dict[str, Any], settings: Any) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True  # the police endpoint is simulated on loopback
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Idempotency-Key"], body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    police = directory["national"]
    police.channel, police.endpoint = "http", f"http://127.0.0.1:{server.server_port}/referrals"
    police.save()
    try:
        assert referral_step() is True
    finally:
        server.shutdown()
    referral = Referral.objects.get()
    assert referral.status == ReferralStatus.SENT
    [(key, body)] = received
    assert key == str(referral.key)
    assert domestic.item.canonical_url.encode() in body


def test_a_contact_without_an_address_fails_without_retrying(
        domestic: Decision, referral_dir: Path, directory: dict[str, Any]) -> None:
    directory["national"].email = ""
    directory["national"].save()
    referral_step()
    referral = Referral.objects.get()
    assert referral.status == ReferralStatus.FAILED and "no e-mail address" in referral.last_error


def test_a_release_lets_the_notice_go_now(domestic: Decision) -> None:
    referral = Referral.objects.get()
    now = timezone.now()
    record_police_answer(referral, "release", actor=SYSTEM, now=now)
    decision = Decision.objects.get(pk=domestic.pk)
    assert decision.hold_until == now and decision.notice_due_at == now
    assert list(Decision.objects.notice_due(now)) == [decision]


def test_a_hold_moves_the_notice_and_needs_an_end(domestic: Decision) -> None:
    referral = Referral.objects.get()
    now = timezone.now()
    with pytest.raises(RoutingError, match="hold_until"):
        record_police_answer(referral, "hold", actor=SYSTEM, now=now)
    later = now + timedelta(days=10)
    record_police_answer(referral, "hold", actor=SYSTEM, now=now, hold_until=later, note="investigation")
    decision = Decision.objects.get(pk=domestic.pk)
    assert decision.notice_due_at == later and decision.hold_until == later
    assert Referral.objects.get().answer_note == "investigation"


def test_accepted_keeps_the_hold(domestic: Decision) -> None:
    record_police_answer(Referral.objects.get(), "accepted", actor=SYSTEM, now=timezone.now())
    assert Decision.objects.get(pk=domestic.pk).notice_due_at == domestic.hold_until


def test_the_police_liaison_records_an_answer_on_the_page(domestic: Decision, login: Any, police: Any,
                                                          manager: Any) -> None:
    referral = Referral.objects.get()
    page = login(police).get(reverse("routing:referral", args=[referral.pk]))
    assert b"Record the police answer" in page.content
    assert b"Record the police answer" not in login(manager).get(
        reverse("routing:referral", args=[referral.pk])).content
    response = login(police).post(reverse("routing:answer", args=[referral.pk]), {"answer": "not_pursued"})
    assert response.status_code == 302
    assert Referral.objects.get().answer == "not_pursued"
    event = AuditEvent.objects.get(action="routing.police_answer")
    assert event.actor_user_id == police.pk
    bad = login(police).post(reverse("routing:answer", args=[referral.pk]), {"answer": "maybe"})
    assert bad.status_code == 400 and Referral.objects.get().answer == "not_pursued"  # the page again, with errors


def test_a_claim_moves_only_rows_the_transition_table_lets_into_sending(
        domestic: Decision, referral_dir: Path) -> None:
    now = timezone.now()
    Referral.objects.update(status=ReferralStatus.FAILED, next_attempt_at=now)  # due, but failed for good
    assert Referral.claim_due(Referral.objects.all(), now=now, lease=LEASE, limit=5) == []
    Referral.objects.update(status=ReferralStatus.QUEUED)
    [claimed] = Referral.claim_due(Referral.objects.all(), now=now, lease=LEASE, limit=5)
    claimed.refresh_from_db()
    assert (claimed.status, claimed.attempts, claimed.next_attempt_at) == (ReferralStatus.SENDING, 1, now + LEASE)


def test_a_referral_backs_off_on_the_outbox_policy_up_to_a_day(domestic: Decision) -> None:
    referral = Referral.objects.get()
    delays = [Referral(attempts=n).retry_delay() for n in (1, 2, 3, 10, 11, 40)]
    assert delays == [timedelta(minutes=m) for m in (2, 4, 8, 1024)] + [timedelta(hours=24)] * 2
    assert referral.retry_policy() == (timedelta(minutes=2), timedelta(hours=24))
