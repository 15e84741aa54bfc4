"""The IMAP mailbox, against the loopback IMAP server: plain (loopback only), IMAPS, STARTTLS, failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from hotline.mailintake.mailboxes import MailboxError, parse_mailbox_url, source_from_settings
from hotline.mailintake.models import AllowedSender, InboundMail, MailboxState
from hotline.mailintake.steps import mail_step
from hotline.mailintake.tests.conftest import MakeMail, dkim_pass
from hotline.reports.models import Report
from hotline.sim.imap import SimImap, TlsMode

pytestmark = pytest.mark.django_db
PASSWORD = "imap-test-password"


@pytest.fixture
def imap(request: pytest.FixtureRequest) -> Iterator[SimImap]:
    mode: TlsMode = getattr(request, "param", "none")
    with SimImap(users={"intake": PASSWORD}, tls=mode) as server:
        yield server


def _settings(server: SimImap, password: str = PASSWORD, url: str | None = None) -> override_settings:
    return override_settings(HOTLINE_MAIL_INTAKE_URL=url or server.url(), HOTLINE_MAIL_INTAKE_PASSWORD=password,
                             HOTLINE_MAIL_INTAKE_CA_FILE=server.ca_file or "", HOTLINE_MAIL_INTAKE_TIMEOUT=5)


@pytest.mark.parametrize("imap", ["none", "implicit", "starttls"], indirect=True)
def test_it_reads_and_removes_mail_over_each_kind_of_connection(
        imap: SimImap, partner: AllowedSender, make_mail: MakeMail) -> None:
    delivered = datetime(2025, 6, 2, 8, 15, tzinfo=UTC)
    imap.add_message(make_mail(auth=[dkim_pass()]), internal_date=delivered)
    imap.add_message(make_mail(sender="stranger@elsewhere.example"))
    with _settings(imap):
        assert mail_step() is True
    assert sorted(InboundMail.objects.values_list("outcome", flat=True)) == ["accepted", "unknown_sender"]
    accepted = InboundMail.objects.get(outcome="accepted")
    assert accepted.delivered_at == delivered and accepted.mailbox == imap.url()
    assert Report.objects.get().received_at == delivered
    assert imap.messages() == []  # flagged \Deleted and expunged once recorded
    if imap.tls == "starttls":
        assert imap.commands.index("STARTTLS") < imap.commands.index("LOGIN")


def test_it_never_falls_back_to_plain_text_when_starttls_is_missing(imap: SimImap, make_mail: MakeMail) -> None:
    imap.add_message(make_mail())
    starttls_url = imap.url().replace("imap+plain://", "imap://")
    with _settings(imap, url=starttls_url), pytest.raises(MailboxError, match="TLS"):
        mail_step()
    assert imap.logins == [] and InboundMail.objects.count() == 0


@pytest.mark.parametrize("imap", ["implicit"], indirect=True)
def test_it_refuses_a_server_certificate_it_cannot_verify(imap: SimImap, make_mail: MakeMail) -> None:
    imap.add_message(make_mail())
    with override_settings(HOTLINE_MAIL_INTAKE_URL=imap.url(), HOTLINE_MAIL_INTAKE_PASSWORD=PASSWORD,
                           HOTLINE_MAIL_INTAKE_CA_FILE="", HOTLINE_MAIL_INTAKE_TIMEOUT=5), \
            pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
        mail_step()
    assert imap.logins == []


def test_it_records_a_refused_login_and_tries_again_later(imap: SimImap, make_mail: MakeMail) -> None:
    imap.add_message(make_mail())
    with _settings(imap, password="wrong"), pytest.raises(MailboxError, match="AUTHENTICATIONFAILED"):
        mail_step()
    state = MailboxState.objects.get()
    assert state.failures == 1 and "AUTHENTICATIONFAILED" in state.last_error and "wrong" not in state.last_error
    assert len(imap.messages()) == 1


def test_it_creates_nothing_twice_when_the_server_refused_the_removal(
        imap: SimImap, partner: AllowedSender, make_mail: MakeMail) -> None:
    imap.add_message(make_mail(auth=[dkim_pass()]))
    imap.refuse_store = True
    with _settings(imap), pytest.raises(MailboxError, match="store"):
        mail_step()
    assert InboundMail.objects.count() == 1 and len(imap.messages()) == 1
    imap.refuse_store = False
    with _settings(imap):
        mail_step(force=True)
    assert InboundMail.objects.count() == 1 and Report.objects.count() == 1
    assert imap.messages() == []


def test_it_reads_a_large_mailbox_in_batches(imap: SimImap, partner: AllowedSender, make_mail: MakeMail) -> None:
    for n in range(5):
        imap.add_message(make_mail(auth=[dkim_pass()], text=f"http://shop.sim.test/batch/{n}\n"))
    with _settings(imap), override_settings(HOTLINE_MAIL_INTAKE_BATCH=2):
        steps = 0
        while mail_step():
            steps += 1
    assert (steps, InboundMail.objects.count(), imap.messages()) == (3, 5, [])


@pytest.mark.parametrize(("url", "problem"), [
    ("imap+plain://intake@mail.hotline.example/INBOX", "loopback"),
    ("imaps://intake:secret@mail.hotline.example/INBOX", "HOTLINE_MAIL_INTAKE_PASSWORD"),
    ("pop3://intake@mail.hotline.example/", "scheme"),
    ("imaps://mail.hotline.example/INBOX", "user and a host"),
    ("maildir://relative/path", "absolute"),
    ("imaps://intake@mail.hotline.example:99999/INBOX", "port"),
])
def test_it_refuses_unsafe_or_broken_mailbox_urls(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_mailbox_url(url)
    with override_settings(HOTLINE_MAIL_INTAKE_URL=url), pytest.raises(ImproperlyConfigured):
        source_from_settings()


def test_it_reads_imap_settings_from_the_url() -> None:
    _, config = parse_mailbox_url("imaps://intake%40hotline@mail.hotline.example/Reports%2FPartners")
    assert config is not None
    assert (config.user, config.host, config.port, config.folder, config.security) == (
        "intake@hotline", "mail.hotline.example", 993, "Reports/Partners", "tls")
    _, starttls = parse_mailbox_url("imap://intake@[::1]:1143")
    assert starttls is not None and (starttls.port, starttls.folder, starttls.security) == (1143, "INBOX", "starttls")
    with override_settings(HOTLINE_MAIL_INTAKE_URL="imaps://intake@mail.hotline.example/INBOX",
                           HOTLINE_MAIL_INTAKE_PASSWORD=""), pytest.raises(ImproperlyConfigured, match="PASSWORD"):
        source_from_settings()


def test_its_system_checks_name_bad_mail_settings() -> None:
    from hotline.mailintake.checks import mail_intake_settings

    def ids(**overrides: str) -> list[str]:
        with override_settings(**overrides):
            return [m.id or "" for m in mail_intake_settings()]

    assert ids(HOTLINE_MAIL_INTAKE_URL="") == []
    assert ids(HOTLINE_MAIL_INTAKE_URL="imap+plain://intake@mail.hotline.example/") == ["hotline.E601"]
    assert ids(HOTLINE_MAIL_INTAKE_URL="imaps://intake@mail.hotline.example/", HOTLINE_MAIL_INTAKE_PASSWORD="",
               HOTLINE_MAIL_AUTHSERV_ID="mx.hotline.example") == ["hotline.E602"]
    assert ids(HOTLINE_MAIL_INTAKE_URL="maildir:///var/mail/intake", HOTLINE_MAIL_AUTHSERV_ID="") == ["hotline.W601"]
