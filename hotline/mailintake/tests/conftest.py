"""Mail intake fixtures: an authserv-id, allow-listed senders, a mail builder and a maildir on disk."""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.test import override_settings

from hotline.audit.services import SYSTEM
from hotline.mailintake.models import AllowedSender
from hotline.mailintake.services import add_sender

AUTHSERV = "mx.hotline.example"
PARTNER = "reports@partner.example"
MakeMail = Callable[..., bytes]


def dkim_pass(domain: str = "partner.example", authserv: str = AUTHSERV) -> str:
    return (f"{authserv}; dkim=pass (2048-bit key) header.d={domain} header.i=@{domain} header.s=sel1; "
            f"spf=none smtp.mailfrom=bounce.sim.test")


def build_mail(
    *,
    sender: str = PARTNER,
    subject: str = "Reports for you",
    text: str | None = "Please check:\nhttp://shop.sim.test/item/1\nhttps://gallery.sim.test/a?b=1\n",
    html: str | None = None,
    auth: list[str] | tuple[str, ...] = (),
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    message_id: str | None = None,
) -> bytes:
    """A synthetic mail; ``attachments`` are ``(filename, mime type, bytes)``."""
    message = EmailMessage()
    for header in auth:
        message["Authentication-Results"] = header
    message["From"] = sender
    message["To"] = "intake@hotline.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="partner.example")
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for name, mime, data in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


@pytest.fixture
def make_mail() -> MakeMail:
    return build_mail


@pytest.fixture(autouse=True)
def _authserv() -> Iterator[None]:
    with override_settings(HOTLINE_MAIL_AUTHSERV_ID=AUTHSERV, HOTLINE_MAIL_INTAKE_URL=""):
        yield


@pytest.fixture
def partner(db: None) -> AllowedSender:
    sender, _ = add_sender(PARTNER, organisation="Partner hotline", source="partner", trust_method="auth",
                           actor=SYSTEM)
    return sender


@pytest.fixture
def token_sender(db: None) -> tuple[AllowedSender, str]:
    sender, token = add_sender("desk@police.example", organisation="Police unit", source="police",
                               trust_method="token", actor=SYSTEM)
    assert token is not None
    return sender, token


class Maildir:
    """A maildir on disk and the intake URL that names it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.box = mailbox.Maildir(root, create=True)

    @property
    def url(self) -> str:
        return f"maildir://{self.root}"

    def deliver(self, raw: bytes) -> str:
        return str(self.box.add(raw))

    def keys(self) -> list[str]:
        return list(self.box.keys())


@pytest.fixture
def maildir(tmp_path: Path) -> Iterator[Maildir]:
    box = Maildir(tmp_path / "intake")
    with override_settings(HOTLINE_MAIL_INTAKE_URL=box.url):
        yield box
