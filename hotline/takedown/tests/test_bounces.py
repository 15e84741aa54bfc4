"""Bounces and delivery reports: a notice sent through the real e-mail channel to an SMTP server on
loopback, its DSN dropped into a real maildir, read by the bounce worker step."""

from __future__ import annotations

import mailbox
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.mailintake.mailboxes import MailboxError
from hotline.mailintake.models import MailboxState
from hotline.sim.imap import SimImap
from hotline.sim.smtp import Received, SmtpSink
from hotline.takedown.models import Notice, Takedown
from hotline.takedown.render import message_id
from hotline.takedown.services import bounce_source, receive_bounce
from hotline.takedown.steps import bounce_step, notice_step
from hotline.takedown.tests.conftest import MakeTraced
from hotline.takedown.tests.dsns import Rcpt, build_dsn, original_mail
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
BOUNCES = "bounces@hotline.example"


class Maildir:
    def __init__(self, root: Path) -> None:
        self.root, self.box = root, mailbox.Maildir(root, create=True)

    def deliver(self, raw: bytes) -> str:
        return str(self.box.add(raw))

    def keys(self) -> list[str]:
        return list(self.box.keys())


@pytest.fixture
def bounce_box(tmp_path: Path, settings: Any) -> Maildir:
    box = Maildir(tmp_path / "bounces")
    settings.HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL = f"maildir://{box.root}"
    settings.HOTLINE_TAKEDOWN_BOUNCE_ADDRESS = BOUNCES
    return box


def send_notice(contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink,
                now: datetime) -> tuple[Notice, Received]:
    item = traced_item(contact, due=now)
    notice_step(now=now)
    while notice_step(now=now + 2 * HOUR):
        pass
    [received] = smtp.wait_for(1)
    return Notice.objects.get(lines__item=item), received


def bounced_events() -> int:
    return AuditEvent.objects.filter(action="takedown.notice_bounced").count()


def test_a_bounce_marks_the_notice_flags_the_managers_and_leaves_the_mailbox_once(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, bounce_box: Maildir) -> None:
    now = timezone.now()
    notice, received = send_notice(contact, traced_item, smtp, now)
    assert received.envelope_from == BOUNCES  # bounces go to the envelope sender ...
    assert received.message["From"] == "hotline@hotline.invalid"  # ... the provider still sees our address
    assert received.message_id == message_id(notice)
    dsn = build_dsn(received.message.as_bytes(), [Rcpt(contact.email)])
    bounce_box.deliver(dsn)
    read_at = now + 3 * HOUR
    assert bounce_step(now=read_at) is True
    notice.refresh_from_db()
    assert notice.bounced_at == read_at
    assert notice.bounce_reason == f"5.1.1 {contact.email}: 550 5.1.1 user unknown"
    assert Takedown.objects.get(notice_lines__notice=notice).managers_flagged_at == read_at
    event = AuditEvent.objects.get(action="takedown.notice_bounced")
    assert event.after == {"notice": notice.reference, "status": "5.1.1", "flagged": 1}
    assert contact.email not in str(event.after)  # the address stays where retention can clear it
    assert bounce_box.keys() == []
    bounce_box.deliver(dsn)  # the same DSN again: a crash before removal, or the MTA sending it twice
    assert bounce_step(now=read_at + HOUR) is True
    notice.refresh_from_db()
    assert (notice.bounced_at, bounced_events(), bounce_box.keys()) == (read_at, 1, [])
    assert Takedown.objects.get(notice_lines__notice=notice).managers_flagged_at == read_at
    assert verify().ok


def test_the_envelope_sender_is_the_from_address_without_a_bounce_address(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    _, received = send_notice(contact, traced_item, smtp, timezone.now())
    assert received.envelope_from == "hotline@hotline.invalid" == received.message["From"]


def test_a_delivery_report_stamps_delivered_once(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, bounce_box: Maildir) -> None:
    now = timezone.now()
    notice, received = send_notice(contact, traced_item, smtp, now)
    dsn = build_dsn(received.message.as_bytes(), [Rcpt(contact.email, "delivered", "2.0.0", "smtp; 250 2.0.0 Ok")])
    assert receive_bounce(dsn, now=now + 3 * HOUR) == "delivered"
    assert receive_bounce(dsn, now=now + 4 * HOUR) == "delivered"
    notice.refresh_from_db()
    assert (notice.delivered_at, notice.bounced_at) == (now + 3 * HOUR, None)
    assert AuditEvent.objects.filter(action="takedown.notice_delivered").count() == 1
    assert Takedown.objects.get(notice_lines__notice=notice).managers_flagged_at is None


def test_a_delay_warning_changes_nothing_and_the_final_bounce_still_counts(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, bounce_box: Maildir) -> None:
    now = timezone.now()
    notice, received = send_notice(contact, traced_item, smtp, now)
    original = received.message.as_bytes()
    bounce_box.deliver(build_dsn(original, [Rcpt(contact.email, "delayed", "4.4.1", "smtp; 451 4.4.1 no answer")]))
    assert bounce_step(now=now + 3 * HOUR) is True
    notice.refresh_from_db()
    assert (notice.bounced_at, notice.delivered_at, bounce_box.keys()) == (None, None, [])
    assert not AuditEvent.objects.filter(action__in=["takedown.notice_bounced", "takedown.notice_delivered"]).exists()
    final = build_dsn(original, [Rcpt(contact.email, "failed", "4.4.7", "X-Postfix; delivery temporarily suspended")])
    assert receive_bounce(final, now=now + 5 * HOUR) == "bounced"
    notice.refresh_from_db()
    assert notice.bounce_reason == f"4.4.7 {contact.email}: delivery temporarily suspended"


def test_a_dsn_for_another_message_and_a_plain_mail_are_removed_and_change_nothing(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, bounce_box: Maildir) -> None:
    now = timezone.now()
    notice, _ = send_notice(contact, traced_item, smtp, now)
    stranger = original_mail("<4f1c2b@elsewhere.example>")
    bounce_box.deliver(build_dsn(stranger))
    bounce_box.deliver(build_dsn(original_mail("<notice-00000000-0000-4000-8000-000000000000@hotline.invalid>")))
    bounce_box.deliver(build_dsn(original_mail(f"<notice-{notice.key}@other-hotline.example>")))  # not our domain
    bounce_box.deliver(b"From: someone@elsewhere.example\r\nSubject: out of office\r\n\r\nBack on Monday.\r\n")
    assert bounce_step(now=now + 3 * HOUR) is True
    assert bounce_box.keys() == []
    notice.refresh_from_db()
    assert (notice.bounced_at, bounced_events()) == (None, 0)


def test_the_outcome_of_each_kind_of_mail(contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    ours = received.message.as_bytes()
    assert receive_bounce(build_dsn(original_mail("<4f1c2b@elsewhere.example>")), now=timezone.now()) == (
        "unknown_message")
    assert receive_bounce(build_dsn(ours).replace(b"delivery-status", b"disposition-notification", 1),
                          now=timezone.now()) == "not_a_dsn"
    assert receive_bounce(ours, now=timezone.now()) == "not_a_dsn"  # the notice itself, sent back
    assert receive_bounce(build_dsn(ours, [Rcpt(contact.email, action="bounced")]), now=timezone.now()) == "not_a_dsn"
    assert receive_bounce(build_dsn(ours, [Rcpt(contact.email, status="550")]), now=timezone.now()) == "not_a_dsn"
    assert receive_bounce(build_dsn(ours, returned=""), now=timezone.now()) == "unknown_message"
    notice.refresh_from_db()
    assert notice.bounced_at is None


def test_it_reads_the_message_id_from_returned_headers_only(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    dsn = build_dsn(received.message.as_bytes(), [Rcpt(contact.email)], returned="headers")
    assert b"Content-Type: text/rfc822-headers" in dsn and b"The notice" not in dsn
    assert receive_bounce(dsn, now=timezone.now()) == "bounced"
    notice.refresh_from_db()
    assert notice.bounced_at is not None


@pytest.mark.parametrize("envid", ["{key}", "notice-{key}", "<notice-{key}@hotline.invalid>",
                                   "notice-{key}+40hotline.invalid"])
def test_it_finds_the_notice_by_its_envelope_id_when_nothing_came_back(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink, envid: str) -> None:
    notice, _ = send_notice(contact, traced_item, smtp, timezone.now())
    dsn = build_dsn(None, [Rcpt(contact.email)], envelope_id=envid.format(key=notice.key))
    assert receive_bounce(dsn, now=timezone.now()) == "bounced"


def test_of_two_recipients_the_one_we_sent_to_decides(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    dsn = build_dsn(received.message.as_bytes(), [
        Rcpt("desk@host1.example", "delivered", "2.0.0", "smtp; 250 ok"), Rcpt(contact.email)])
    assert receive_bounce(dsn, now=timezone.now()) == "bounced"
    notice.refresh_from_db()
    assert notice.bounce_reason == f"5.1.1 {contact.email}: 550 5.1.1 user unknown"  # only ours


def test_an_alias_that_reached_one_of_two_mailboxes_counts_as_delivered(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    dsn = build_dsn(received.message.as_bytes(), [
        Rcpt("alice@host1.example", "failed", "5.2.2", "smtp; 552 5.2.2 mailbox full", original=contact.email),
        Rcpt("bob@host1.example", "delivered", "2.0.0", "smtp; 250 ok", original=contact.email)])
    assert receive_bounce(dsn, now=timezone.now()) == "delivered"
    notice.refresh_from_db()
    assert notice.delivered_at is not None and notice.bounced_at is None


def test_a_hostile_diagnostic_is_stored_as_plain_text(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    dsn = build_dsn(received.message.as_bytes(), [Rcpt(contact.email, diagnostic="smtp; 550 x")])
    dsn = dsn.replace(b"550 x", b"550 \xe9t\xe9 \x00\x1b[31m" + b"z" * 5000)  # latin-1, NUL, escape, long
    assert receive_bounce(dsn, now=timezone.now()) == "bounced"
    notice.refresh_from_db()
    assert notice.bounce_reason.startswith(f"5.1.1 {contact.email}: 550 été [31mzzz")
    assert "\x00" not in notice.bounce_reason and len(notice.bounce_reason) < 600


def test_a_huge_returned_original_is_not_read_but_the_report_is(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    padded = received.message.as_bytes() + (b"x" * 76 + b"\r\n") * 30_000  # about 2.3 MB
    assert receive_bounce(build_dsn(padded, [Rcpt(contact.email)]), now=timezone.now()) == "bounced"
    padded_first = build_dsn(received.message.as_bytes(), [Rcpt(contact.email)], human=("x" * 76 + "\n") * 10_000)
    notice.refresh_from_db()
    assert notice.bounced_at is not None
    assert receive_bounce(padded_first, now=timezone.now()) == "not_a_dsn"  # the report lies past what is read


def test_the_non_responders_page_lists_an_address_that_bounces_until_it_is_fixed(
        login: Any, manager: User, contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    receive_bounce(build_dsn(received.message.as_bytes(), [Rcpt(contact.email)]), now=timezone.now())
    client = login(manager)
    page = client.get("/takedown/non-responders/").content.decode()
    assert notice.reference in page and "550 5.1.1 user unknown" in page and contact.email in page
    assert "bounced" in client.get("/takedown/notices/").content.decode()
    detail = client.get(f"/takedown/notices/{notice.pk}/").content.decode()
    assert "550 5.1.1 user unknown" in detail
    AbuseContact.objects.filter(pk=contact.pk).update(email="abuse-desk@host1.example")
    assert notice.reference not in client.get("/takedown/non-responders/").content.decode()


def test_the_non_responders_page_in_dutch_and_french(
        login: Any, manager: User, contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    _, received = send_notice(contact, traced_item, smtp, timezone.now())
    receive_bounce(build_dsn(received.message.as_bytes(), [Rcpt(contact.email)]), now=timezone.now())
    client = login(manager)
    assert "Onbereikbare abuse-adressen" in client.get("/nl/takedown/non-responders/").content.decode()
    assert "Adresses abuse injoignables" in client.get("/fr/takedown/non-responders/").content.decode()


def test_a_mailbox_that_cannot_be_read_is_tried_again_later(tmp_path: Path, settings: Any) -> None:
    settings.HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL = f"maildir://{tmp_path / 'missing'}"
    now = timezone.now()
    with pytest.raises(MailboxError, match="maildir"):
        bounce_step(now=now)
    state = MailboxState.objects.get()
    assert state.key == f"bounces:maildir://{tmp_path / 'missing'}" and state.failures == 1
    assert state.next_poll_at > now and state.lease_until is None
    assert bounce_step(now=now) is False  # not due yet


def test_nothing_configured_means_nothing_done(settings: Any) -> None:
    settings.HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL = ""
    assert bounce_source() is None and bounce_step() is False
    assert not MailboxState.objects.exists()


def test_it_reads_the_bounce_mailbox_over_imap(
        contact: AbuseContact, traced_item: MakeTraced, smtp: SmtpSink) -> None:
    notice, received = send_notice(contact, traced_item, smtp, timezone.now())
    with SimImap(users={"bounces": "imap-bounce-password"}) as imap:
        imap.add_message(build_dsn(received.message.as_bytes(), [Rcpt(contact.email)]))
        with override_settings(HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL=imap.url("bounces"),
                               HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD=""), \
                pytest.raises(ImproperlyConfigured, match="HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD"):
            bounce_source()
        with override_settings(HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL=imap.url("bounces"),
                               HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD="imap-bounce-password"):
            assert bounce_step() is True
        assert imap.messages() == []
    notice.refresh_from_db()
    assert notice.bounced_at is not None


def test_its_system_checks_name_bad_bounce_settings(tmp_path: Path) -> None:
    from hotline.takedown.conf import bounce_settings

    def ids(**overrides: str) -> list[str]:
        with override_settings(**overrides):
            return [m.id or "" for m in bounce_settings()]

    assert ids(HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL="", HOTLINE_TAKEDOWN_BOUNCE_ADDRESS="") == []
    assert ids(HOTLINE_TAKEDOWN_BOUNCE_ADDRESS="not an address") == ["hotline.E206"]
    assert ids(HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL="pop3://x@mail.hotline.example/") == ["hotline.E203"]
    assert ids(HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL="imaps://bounces@mail.hotline.example/",
               HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD="") == ["hotline.E204"]
    assert ids(HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL="maildir:///var/mail/hotline",
               HOTLINE_MAIL_INTAKE_URL="maildir:///var/mail/hotline") == ["hotline.E205"]
    assert ids(HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL="maildir:///var/mail/bounces",
               HOTLINE_MAIL_INTAKE_URL="maildir:///var/mail/hotline", HOTLINE_TAKEDOWN_BOUNCE_ADDRESS=BOUNCES) == []
