"""The mail list and detail pages, and the sender allow-list in the UI."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.mailintake.models import AllowedSender, InboundMail
from hotline.mailintake.services import receive_mail
from hotline.mailintake.steps import mail_step
from hotline.mailintake.tests.conftest import PARTNER, Maildir, MakeMail, dkim_pass

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


@pytest.fixture
def recorded(partner: AllowedSender, make_mail: MakeMail) -> InboundMail:
    raw = make_mail(auth=[dkim_pass()], text="Dear colleagues, two new ones.\nhttp://shop.sim.test/v/1\n",
                    attachments=(("pattern.png", "image/png", b"\x89PNG synthetic"),))
    mail, _ = receive_mail(raw)
    return mail


def test_it_lists_mails_with_their_outcomes(login: Login, manager: User, recorded: InboundMail) -> None:
    receive_mail(b"From: stranger@elsewhere.example\r\nSubject: hello\r\n\r\nhi\r\n")
    page = login(manager).get(reverse("mailintake:mails")).content.decode()
    assert PARTNER in page and "stranger@elsewhere.example" in page and "Unknown sender" in page
    only = login(manager).get(reverse("mailintake:mails"), {"outcome": "unknown_sender"}).content.decode()
    assert "stranger@elsewhere.example" in only and PARTNER not in only


def test_it_shows_a_mail_without_its_text_until_asked(login: Login, senior: User, recorded: InboundMail) -> None:
    client = login(senior)
    page = client.get(reverse("mailintake:mail", kwargs={"pk": recorded.pk})).content.decode()
    assert recorded.sha256 in page and "pattern.png" in page and "dkim=pass (partner.example)" in page
    assert "Dear colleagues" not in page
    assert not AuditEvent.objects.filter(action="mail.text_viewed").exists()
    shown = client.post(reverse("mailintake:mail_text", kwargs={"pk": recorded.pk})).content.decode()
    assert "Dear colleagues" in shown and "PNG synthetic" not in shown
    event = AuditEvent.objects.get(action="mail.text_viewed")
    assert (event.object_id, event.actor_user_id) == (str(recorded.pk), senior.pk)


def test_it_adds_a_sender_and_shows_its_token_once(login: Login, manager: User, make_mail: MakeMail) -> None:
    client = login(manager)
    response = client.post(reverse("mailintake:sender_new"), {
        "address": " Desk@Police.Example ", "organisation": "Police unit", "source": "police",
        "trust_method": "token"})
    page = response.content.decode()
    sender = AllowedSender.objects.get(address="desk@police.example")
    token = page.split("[hotline:")[1].split("]")[0]
    assert sender.token_hash == AllowedSender.hash_token(token) and token not in sender.token_hash
    listing = client.get(reverse("mailintake:senders")).content.decode()
    assert "desk@police.example" in listing and token not in listing
    assert token not in client.get(reverse("mailintake:sender_edit", kwargs={"pk": sender.pk})).content.decode()
    mail, _ = receive_mail(make_mail(sender="desk@police.example", subject=f"[hotline:{token}]"))
    assert mail.outcome == "accepted"
    assert AuditEvent.objects.filter(action="mail_sender.added", actor_user_id=manager.pk).exists()


def test_it_needs_no_token_for_a_sender_trusted_by_auth_results(login: Login, admin_user: User) -> None:
    response = login(admin_user).post(reverse("mailintake:sender_new"), {
        "address": "abuse@industry.example", "organisation": "Platform", "source": "industry",
        "trust_method": "auth"})
    assert response.status_code == 302
    assert AllowedSender.objects.get(address="abuse@industry.example").token_hash == ""


@pytest.mark.parametrize(("data", "message"), [
    ({"address": "not-an-address", "organisation": "X", "source": "partner", "trust_method": "auth"},
     "Enter a valid email address"),
    ({"address": PARTNER, "organisation": "X", "source": "partner", "trust_method": "auth"}, "already"),
    ({"address": "a@b.example", "organisation": "X", "source": "public", "trust_method": "auth"}, "not one of"),
])
def test_it_explains_a_refused_sender_next_to_the_field(
        login: Login, manager: User, partner: AllowedSender, data: dict[str, str], message: str) -> None:
    response = login(manager).post(reverse("mailintake:sender_new"), data)
    assert response.status_code == 200 and message in response.content.decode()
    assert AllowedSender.objects.count() == 1


def test_it_disables_a_sender_and_audits_the_change(
        login: Login, manager: User, partner: AllowedSender, make_mail: MakeMail) -> None:
    login(manager).post(reverse("mailintake:sender_edit", kwargs={"pk": partner.pk}), {
        "organisation": "Partner hotline", "source": "partner", "trust_method": "auth"})
    partner.refresh_from_db()
    assert partner.is_active is False
    event = AuditEvent.objects.get(action="mail_sender.changed")
    assert event.before is not None and event.after is not None
    assert (event.before["active"], event.after["active"]) == (True, False)
    assert receive_mail(make_mail(auth=[dkim_pass()]))[0].outcome == "unknown_sender"


def test_it_replaces_a_token_so_the_old_one_stops_working(
        login: Login, manager: User, token_sender: tuple[AllowedSender, str], make_mail: MakeMail) -> None:
    sender, old = token_sender
    page = login(manager).post(reverse("mailintake:sender_token", kwargs={"pk": sender.pk})).content.decode()
    new = page.split("[hotline:")[1].split("]")[0]
    assert new != old
    assert receive_mail(make_mail(sender=sender.address, subject=f"[hotline:{old}]"))[0].outcome == "unauthenticated"
    assert receive_mail(make_mail(sender=sender.address, subject=f"[hotline:{new}]"))[0].outcome == "accepted"


def test_the_command_polls_the_mailbox_once(maildir: Maildir, partner: AllowedSender, make_mail: MakeMail,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        maildir.deliver(make_mail(auth=[dkim_pass()], text=f"http://shop.sim.test/c/{n}\n"))
    with override_settings(HOTLINE_MAIL_INTAKE_BATCH=2):
        call_command("mail", "poll", "--once")
    assert InboundMail.objects.filter(outcome="accepted").count() == 3 and maildir.keys() == []
    call_command("mail", "poll", "--once")
    assert "no mail waiting" in capsys.readouterr().out


def test_the_command_records_one_mail_from_a_file(tmp_path: object, partner: AllowedSender,
                                                  make_mail: MakeMail) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "one.eml"
    path.write_bytes(make_mail(auth=[dkim_pass()]))
    call_command("mail", "receive", str(path))
    call_command("mail", "receive", str(path))
    assert InboundMail.objects.get().outcome == "accepted"


def test_the_command_says_when_no_mailbox_is_configured() -> None:
    with pytest.raises(CommandError, match="HOTLINE_MAIL_INTAKE_URL"):
        call_command("mail", "poll", "--once")
    assert mail_step() is False


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"address": "no-at-sign.example"}, "address"),
    ({"organisation": "   "}, "organisation"),
    ({"source": "public"}, "source"),
    ({"trust_method": "psychic"}, "trust_method"),
])
def test_the_service_names_the_field_it_refuses(kwargs: dict[str, str], field: str) -> None:
    from hotline.audit.services import SYSTEM
    from hotline.mailintake.services import InvalidSender, add_sender

    values = {"address": "desk@ok.example", "organisation": "Org", "source": "partner", "trust_method": "auth"}
    values |= kwargs
    with pytest.raises(InvalidSender) as refused:
        add_sender(values["address"], organisation=values["organisation"], source=values["source"],
                   trust_method=values["trust_method"], actor=SYSTEM)
    assert refused.value.field == field and AllowedSender.objects.count() == 0
