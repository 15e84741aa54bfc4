"""Objects the access matrix (core/tests/test_access_matrix.py) opens the mail intake routes with."""

from __future__ import annotations

from typing import Any

from hotline.audit.services import SYSTEM
from hotline.mailintake.services import add_sender, receive_mail


def access_object(route: str, item: Any = None, make_media: Any = None) -> int:
    """A recorded mail for the mail routes, an allow-listed sender for the sender routes."""
    if route.startswith("mailintake:sender"):
        sender, _ = add_sender("desk@matrix.example", organisation="Matrix", source="partner", trust_method="either",
                               actor=SYSTEM)
        return sender.pk
    raw = b"From: someone@unknown.example\r\nSubject: hi\r\n\r\nhttp://shop.sim.test/x\r\n"
    mail, _ = receive_mail(raw, mailbox="test")
    return mail.pk
