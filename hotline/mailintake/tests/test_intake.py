"""Mails from a maildir become reports, or a recorded refusal: trust, extraction, evidence, idempotency."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail as outbox
from django.test import override_settings

from hotline.audit.models import AuditEvent
from hotline.evidence.store import get_blob_bytes
from hotline.mailintake import services
from hotline.mailintake.mailboxes import MailboxError, MaildirSource
from hotline.mailintake.models import AllowedSender, InboundMail, MailboxState
from hotline.mailintake.services import poll, receive_mail
from hotline.mailintake.steps import mail_step
from hotline.mailintake.tests.conftest import AUTHSERV, Maildir, MakeMail, dkim_pass
from hotline.reports.models import Item, Report

pytestmark = pytest.mark.django_db


def _only_mail() -> InboundMail:
    mails = list(InboundMail.objects.all())
    assert len(mails) == 1
    return mails[0]


def _report_of(row: InboundMail) -> Report:
    assert row.report is not None
    return row.report


def _nothing_created() -> None:
    assert Report.objects.count() == 0 and Item.objects.count() == 0
    assert outbox.outbox == []  # unknown or unproven senders are never answered


def test_it_turns_an_authenticated_partner_mail_into_a_report(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    raw = make_mail(auth=[dkim_pass()], message_id="<r1@partner.example>")
    maildir.deliver(raw)
    assert mail_step() is True
    row = _only_mail()
    assert (row.outcome, row.sender, row.allowed_sender, row.url_count) == ("accepted", partner.address, partner, 2)
    assert row.trusted_by == ["dkim=pass (partner.example)"]
    report = _report_of(row)
    assert (report.source, report.reporter_contact, report.external_ref) == ("partner", partner.address,
                                                                             "<r1@partner.example>")
    assert sorted(report.items.values_list("canonical_url", flat=True)) == [
        "http://shop.sim.test/item/1", "https://gallery.sim.test/a?b=1"]
    assert maildir.keys() == []  # removed once recorded
    assert get_blob_bytes(row.blob) == raw and row.sha256 == hashlib.sha256(raw).hexdigest()
    event = AuditEvent.objects.get(action="mail.received")
    assert event.object_id == str(row.pk) and event.after is not None
    assert (event.after["outcome"], event.after["report"]) == ("accepted", report.reference)
    assert outbox.outbox == []


def test_it_refuses_a_spoofed_from_without_auth_results_or_token(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    maildir.deliver(make_mail())
    mail_step()
    row = _only_mail()
    assert (row.outcome, row.sender, row.report_id, row.url_count) == ("unauthenticated", partner.address, None, 0)
    assert row.errors[0]["field"] == "From" and AUTHSERV in row.errors[0]["message"]
    _nothing_created()
    assert AuditEvent.objects.filter(action="mail.received", after__outcome="unauthenticated").count() == 1
    assert maildir.keys() == []


@pytest.mark.parametrize("header", [
    dkim_pass(authserv="mx.attacker.example"),  # a pass from someone else's server
    f"{AUTHSERV}; dkim=pass header.d=attacker.example",  # our server, but another domain's signature
    f"{AUTHSERV}; dkim=fail header.d=partner.example; spf=softfail smtp.mailfrom=partner.example",
    f"{AUTHSERV}; spf=pass smtp.mailfrom=bounce@attacker.example",
    f"{AUTHSERV}; dmarc=pass header.from=attacker.example",
])
def test_it_counts_only_our_servers_aligned_passes(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail, header: str) -> None:
    maildir.deliver(make_mail(auth=[header]))
    mail_step()
    assert _only_mail().outcome == "unauthenticated"
    _nothing_created()


@pytest.mark.parametrize("header", [
    f"{AUTHSERV}; spf=pass smtp.mailfrom=bounces@partner.example",
    f"{AUTHSERV}; dmarc=pass (p=reject) header.from=partner.example",
    f"{AUTHSERV} 1; dkim=pass reason=\"good; signature\" header.d=PARTNER.example",
])
def test_it_accepts_aligned_spf_or_dmarc_passes(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail, header: str) -> None:
    maildir.deliver(make_mail(auth=[header]))
    mail_step()
    assert _only_mail().outcome == "accepted"


def test_it_records_an_unknown_sender_and_answers_nothing(maildir: Maildir, make_mail: MakeMail) -> None:
    maildir.deliver(make_mail(sender="stranger@elsewhere.example", auth=[dkim_pass("elsewhere.example")]))
    mail_step()
    row = _only_mail()
    assert (row.outcome, row.sender, row.allowed_sender) == ("unknown_sender", "stranger@elsewhere.example", None)
    assert row.errors == [{"where": "header", "field": "From",
                           "message": "stranger@elsewhere.example is not on the allow-list"}]
    _nothing_created()


def test_it_treats_a_disabled_sender_as_unknown(maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    AllowedSender.objects.filter(pk=partner.pk).update(is_active=False)
    maildir.deliver(make_mail(auth=[dkim_pass()]))
    mail_step()
    assert _only_mail().outcome == "unknown_sender"
    _nothing_created()


def test_it_accepts_a_token_in_the_subject_and_never_stores_it(
        maildir: Maildir, token_sender: tuple[AllowedSender, str], make_mail: MakeMail) -> None:
    sender, token = token_sender
    maildir.deliver(make_mail(sender=sender.address, subject=f"New URLs [hotline:{token}]"))
    mail_step()
    row = _only_mail()
    assert (row.outcome, row.trusted_by) == ("accepted", ["token"])
    report = _report_of(row)
    assert report.source == "police"
    assert token not in row.subject and token not in report.text and "[hotline:…]" in row.subject
    assert token not in str(list(AuditEvent.objects.values_list("after", flat=True)))


def test_it_accepts_a_token_in_the_body_but_not_a_wrong_one(
        maildir: Maildir, token_sender: tuple[AllowedSender, str], make_mail: MakeMail) -> None:
    sender, token = token_sender
    maildir.deliver(make_mail(sender=sender.address, text=f"[hotline:{token}]\nhttp://shop.sim.test/t\n"))
    maildir.deliver(make_mail(sender=sender.address, subject="[hotline:" + "x" * 32 + "]"))
    mail_step()
    outcomes = sorted(InboundMail.objects.values_list("outcome", flat=True))
    assert outcomes == ["accepted", "unauthenticated"]
    assert Report.objects.count() == 1


def test_it_needs_both_proofs_when_the_method_says_both(
        maildir: Maildir, token_sender: tuple[AllowedSender, str], make_mail: MakeMail) -> None:
    sender, token = token_sender
    AllowedSender.objects.filter(pk=sender.pk).update(trust_method="both")
    maildir.deliver(make_mail(sender=sender.address, subject=f"[hotline:{token}]"))
    maildir.deliver(make_mail(sender=sender.address, subject=f"[hotline:{token}] again",
                              auth=[dkim_pass("police.example")]))
    mail_step()
    rows = {m.subject: m for m in InboundMail.objects.all()}
    assert rows["[hotline:…]"].outcome == "unauthenticated"
    assert rows["[hotline:…] again"].outcome == "accepted"
    assert rows["[hotline:…] again"].trusted_by == ["dkim=pass (police.example)", "token"]


def test_it_keeps_the_good_lines_of_a_csv_attachment_and_names_the_bad_one(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    csv_data = (b"url,external_ref\r\nhttp://files.sim.test/1,a\r\nhttp://exa mple.sim.test/2,b\r\n"
                b",c\r\nhttps://files.sim.test/3,d\r\n")
    maildir.deliver(make_mail(auth=[dkim_pass()], text="See the attached list.",
                              attachments=(("urls.csv", "text/csv", csv_data),)))
    mail_step()
    row = _only_mail()
    assert (row.outcome, row.url_count, row.rejected_count) == ("accepted", 2, 1)
    report = _report_of(row)
    assert sorted(report.items.values_list("canonical_url", flat=True)) == [
        "http://files.sim.test/1", "https://files.sim.test/3"]
    places = {(e["where"], e["field"]) for e in row.errors}
    assert places == {("attachment 'urls.csv' line 3", "url"), ("attachment 'urls.csv' line 4", "url")}
    bad = next(e for e in row.errors if e["where"].endswith("line 3"))
    assert bad["value"] == "http://exa mple.sim.test/2"


def test_it_reads_text_attachments_and_lists_but_never_reads_others(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    maildir.deliver(make_mail(auth=[dkim_pass()], text="two attachments", attachments=(
        ("list.txt", "text/plain", b"one: hxxp://blog[.]sim[.]test/p/1\n"),
        ("pattern.png", "image/png", b"\x89PNG\r\n\x1a\n synthetic"),
    )))
    mail_step()
    row = _only_mail()
    report = _report_of(row)
    assert list(report.items.values_list("canonical_url", flat=True)) == ["http://blog.sim.test/p/1"]
    png = next(p for p in row.parts if p["filename"] == "pattern.png")
    assert png["attachment"] is True and "not read" in png["note"]


def test_it_reads_an_html_only_body(maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    html = ('<html><body><p>Found <a href="http://forum.sim.test/t/9">this thread</a> and<br>'
            "https://cdn.sim.test/x.jpg.</p><script>var u='http://script.sim.test/no';</script></body></html>")
    maildir.deliver(make_mail(auth=[dkim_pass()], text=None, html=html))
    mail_step()
    row = _only_mail()
    report = _report_of(row)
    assert sorted(report.items.values_list("canonical_url", flat=True)) == [
        "http://forum.sim.test/t/9", "https://cdn.sim.test/x.jpg"]
    assert "this thread" in report.text and "<a" not in report.text


def test_it_records_a_trusted_mail_without_urls(maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    maildir.deliver(make_mail(auth=[dkim_pass()], text="Nothing new this week.\nhttp://\n"))
    mail_step()
    assert (_only_mail().outcome, Report.objects.count()) == ("no_urls", 0)


def test_it_records_the_same_message_once(maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    raw = make_mail(auth=[dkim_pass()])
    maildir.deliver(raw)
    maildir.deliver(raw)
    mail_step()
    assert InboundMail.objects.count() == 1 and Report.objects.count() == 1
    assert maildir.keys() == []
    again, created = receive_mail(raw)
    assert created is False and again == InboundMail.objects.get()


def test_it_rolls_back_whole_when_another_worker_recorded_the_mail_meanwhile(
        partner: AllowedSender, make_mail: MakeMail, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = make_mail(auth=[dkim_pass()])
    real_assess = services._assess

    def other_worker_first(data: bytes) -> object:
        found = real_assess(data)
        monkeypatch.setattr(services, "_assess", real_assess)
        receive_mail(data, mailbox="other worker")  # commits between our check and our insert
        return found

    monkeypatch.setattr(services, "_assess", other_worker_first)
    row, created = receive_mail(raw, mailbox="this worker")
    assert (created, row.mailbox) == (False, "other worker")
    assert InboundMail.objects.count() == 1 and Report.objects.count() == 1
    assert AuditEvent.objects.filter(action="report.received").count() == 1


def test_it_marks_a_resent_message_id_as_duplicate(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    maildir.deliver(make_mail(auth=[dkim_pass()], message_id="<same@partner.example>"))
    mail_step()
    maildir.deliver(make_mail(auth=[dkim_pass()], subject="Resent", message_id="<same@partner.example>"))
    mail_step(force=True)
    assert sorted(InboundMail.objects.values_list("outcome", flat=True)) == ["accepted", "duplicate"]
    assert Report.objects.count() == 1


class _CrashingMaildir(MaildirSource):
    """The process dies after recording a mail and before removing it from the mailbox."""

    def done(self, ref: str) -> None:
        raise MailboxError("simulated crash before removal")


def test_it_creates_nothing_twice_after_a_crash_between_recording_and_removal(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    maildir.deliver(make_mail(auth=[dkim_pass()]))
    with pytest.raises(MailboxError):
        poll(_CrashingMaildir(maildir.root), limit=10)
    assert InboundMail.objects.count() == 1 and maildir.keys() != []
    result = poll(MaildirSource(maildir.root), limit=10)
    assert (result.fetched, result.recorded, result.seen_before) == (1, 0, 1)
    assert InboundMail.objects.count() == 1 and Report.objects.count() == 1
    assert AuditEvent.objects.filter(action="mail.received").count() == 1
    assert maildir.keys() == []


def test_it_reads_what_it_can_of_broken_mime(maildir: Maildir, partner: AllowedSender) -> None:
    raw = (f"Authentication-Results: {dkim_pass()}\r\nFrom: {partner.address}\r\nSubject: broken\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
           "--XYZ\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\nhttp://shop.sim.test/broken/1\r\n"
           "--XYZ\r\nContent-Type: text/csv\r\nContent-Transfer-Encoding: base64\r\n"
           "Content-Disposition: attachment; filename=\"x.csv\"\r\n\r\n!!!not base64 at all~~~\r\n"
           ).encode()  # no closing boundary
    maildir.deliver(raw)
    mail_step()
    row = _only_mail()
    assert row.outcome == "accepted"
    assert list(_report_of(row).items.values_list("canonical_url", flat=True)) == [
        "http://shop.sim.test/broken/1"]
    assert any(e["where"] == "MIME structure" for e in row.errors)


@pytest.mark.parametrize(("raw", "field"), [
    (b"Subject: no sender\r\n\r\nhttp://shop.sim.test/1\r\n", "From"),
    (b"From: a@partner.example, b@partner.example\r\n\r\nhttp://shop.sim.test/1\r\n", "From"),
    (b"From: a@partner.example\r\nFrom: b@partner.example\r\n\r\nx\r\n", "From"),
    (b"From: not an address\r\n\r\nx\r\n", "From"),
    (bytes(range(256)) * 4, "From"),
])
def test_it_records_mail_without_one_valid_sender_as_malformed(maildir: Maildir, raw: bytes, field: str) -> None:
    maildir.deliver(raw)
    assert mail_step() is True
    row = _only_mail()
    assert (row.outcome, row.errors[0]["field"]) == ("malformed", field)
    assert get_blob_bytes(row.blob) == raw
    _nothing_created()


def test_it_records_but_does_not_read_a_mail_over_the_size_limit(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    raw = make_mail(auth=[dkim_pass()], text="http://shop.sim.test/big\n" + "x" * 5000)
    maildir.deliver(raw)
    with override_settings(HOTLINE_MAIL_INTAKE_MAX_BYTES=2048):
        mail_step()
    row = _only_mail()
    assert (row.outcome, row.sender, row.errors[0]["field"]) == ("too_large", partner.address, "size")
    assert get_blob_bytes(row.blob) == raw
    _nothing_created()


def test_it_dates_the_report_from_the_mailbox_delivery_not_the_poll(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    delivered = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    msg_key = maildir.deliver(make_mail(auth=[dkim_pass()]))
    key = f"{int(delivered.timestamp())}.M0P1Q1.mx"
    (maildir.root / "new" / msg_key).rename(maildir.root / "new" / key)
    later = delivered + timedelta(hours=5)
    mail_step(now=later)
    row = _only_mail()
    assert (row.delivered_at, row.received_at) == (delivered, later)
    assert _report_of(row).received_at == delivered


def test_it_does_nothing_without_a_mailbox(partner: AllowedSender) -> None:
    assert mail_step() is False
    assert MailboxState.objects.count() == 0


def test_it_polls_again_only_after_the_interval(maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    maildir.deliver(make_mail(auth=[dkim_pass()]))
    with override_settings(HOTLINE_MAIL_INTAKE_INTERVAL=60):
        assert mail_step(now=now) is True
        maildir.deliver(make_mail(auth=[dkim_pass()], subject="second"))
        assert mail_step(now=now + timedelta(seconds=30)) is False
        assert mail_step(now=now + timedelta(seconds=61)) is True
    assert InboundMail.objects.count() == 2


def test_it_holds_a_lease_so_two_workers_never_read_the_mailbox_at_once(
        maildir: Maildir, partner: AllowedSender, make_mail: MakeMail) -> None:
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    maildir.deliver(make_mail(auth=[dkim_pass()]))
    MailboxState.objects.create(key=maildir.url, next_poll_at=now, lease_until=now + timedelta(minutes=5))
    assert mail_step(now=now, force=True) is False  # another worker holds it
    assert mail_step(now=now + timedelta(minutes=6)) is True  # its lease ran out (a crashed worker)


def test_it_pushes_the_next_poll_back_when_the_mailbox_fails(tmp_path: object, partner: AllowedSender) -> None:
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    with override_settings(HOTLINE_MAIL_INTAKE_URL="maildir:///nonexistent/hotline-intake",
                           HOTLINE_MAIL_INTAKE_INTERVAL=60):
        with pytest.raises(MailboxError):
            mail_step(now=now)
        state = MailboxState.objects.get()
        assert state.failures == 1 and state.lease_until is None and "nonexistent" in state.last_error
        assert state.next_poll_at == now + timedelta(seconds=120)
        assert mail_step(now=now + timedelta(seconds=60)) is False  # not due yet: no hammering
        with pytest.raises(MailboxError):
            mail_step(now=now + timedelta(seconds=120))
        assert MailboxState.objects.get().next_poll_at == now + timedelta(seconds=120 + 240)
