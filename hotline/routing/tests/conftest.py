from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from hotline.lib.signing import new_keypair
from hotline.partners.models import PartnerHotline, PoliceContact
from hotline.reports.models import Item, ItemStatus
from hotline.tracing.models import Provider, Trace, TraceOutcome

MakeTrace = Callable[..., Trace]


@pytest.fixture
def directory(db: None) -> dict[str, Any]:
    return {
        "national": PoliceContact.objects.create(name="National unit", country="BE", kind="national",
                                                 email="unit@police.example"),
        "international": PoliceContact.objects.create(name="International desk", country="BE",
                                                      kind="international", email="desk@police.example"),
        "nl": PartnerHotline.objects.create(code="hotline-nl", name="Hotline NL", countries=["NL"],
                                            endpoint="https://hotline-nl.example/api/v1/exchange/messages",
                                            public_key=new_keypair()[1]),
    }


@pytest.fixture
def assessed(make_item: Callable[..., Item]) -> Callable[..., Item]:
    """An item assessed with `verdict` (set directly: the assessment workflow has its own tests)."""

    def make(verdict: str = "baseline", url: str | None = None) -> Item:
        item = make_item(url)
        fields = item.transition(ItemStatus.ASSESSED, now=timezone.now())
        item.verdict = verdict
        item.save(update_fields=[*fields, "verdict"])
        return item

    return make


@pytest.fixture
def make_trace(db: None) -> MakeTrace:
    def make(item: Item, country: str = "BE", *, provider: str = "Host BV", disputed: bool = False,
             outcome: str = TraceOutcome.OK, at: datetime | None = None) -> Trace:
        hoster, _ = Provider.objects.get_or_create(name=provider, defaults={"country": country})
        return Trace.objects.create(
            item=item, traced_at=at or timezone.now(), host=item.host, outcome=outcome,
            addresses=[{"ip": "192.0.2.10"}] if outcome == TraceOutcome.OK else [],
            country=country if outcome == TraceOutcome.OK else "",
            country_signals={"iptocc": country, "geoip2fast": country, "rdap": "DE" if disputed else country},
            country_disputed=disputed, provider=hoster if outcome == TraceOutcome.OK else None)

    return make


class _Sink:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.fail = False
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail:
            return "451 try again later"
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(settings: Any) -> Iterator[_Sink]:
    """A real SMTP server on loopback collecting what is sent."""
    sink = _Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        yield sink
    finally:
        controller.stop()
