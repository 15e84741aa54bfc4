"""Notices to a provider API go through the pinned outbound client (issue 19, part 3): the endpoint's name
is resolved once, and the notice goes to exactly the checked address or nowhere; what the provider
answers is stored as a short escaped summary that only managers see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from hotline.sim.providers import ProviderApi
from hotline.sim.rebind import ScriptedDns
from hotline.takedown.models import Notice, NoticeState
from hotline.takedown.steps import notice_step
from hotline.takedown.tests.conftest import MakeContact, MakeTraced

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.215.14"  # never reached: the connect guard refuses every non-loopback address
HOUR = timedelta(hours=1)


def _send_all(now: Any) -> None:
    while notice_step(now=now):
        pass


@pytest.mark.parametrize("allow_loopback", [True, False])
def test_a_rebinding_api_name_never_reaches_loopback(
        make_contact: MakeContact, traced_item: MakeTraced, settings: Any, monkeypatch: pytest.MonkeyPatch,
        allow_loopback: bool) -> None:
    now = timezone.now()
    with ProviderApi() as api:
        port = urlsplit(api.url).port
        settings.HOTLINE_FETCH_ALLOW_LOOPBACK = allow_loopback
        settings.HOTLINE_OUTBOUND_ALLOWED_PORTS = [443, port]  # a public address on the test port
        contact = make_contact(channel="api", endpoint=f"http://abuse-api.example:{port}/abuse/notices")
        traced_item(contact, due=now)
        notice_step(now=now)
        # The check sees a public address; any later lookup would answer loopback, where the API listens.
        dns = ScriptedDns({"abuse-api.example": [[PUBLIC], ["127.0.0.1"]]}).install(monkeypatch)
        _send_all(now + 2 * HOUR)
        assert api.deliveries == [], "the notice reached loopback through a second DNS answer"
    assert dns.calls == ["abuse-api.example"]
    assert [c for c in dns.connects if c[1] == port] == [(PUBLIC, port)]
    notice = Notice.objects.get()
    assert notice.state == NoticeState.QUEUED and "connect" in notice.last_error  # retried later


def test_a_private_api_endpoint_is_refused_without_retrying(
        make_contact: MakeContact, traced_item: MakeTraced, monkeypatch: pytest.MonkeyPatch) -> None:
    now = timezone.now()
    contact = make_contact(channel="api", endpoint="http://abuse-api.example/abuse/notices")
    traced_item(contact, due=now)
    notice_step(now=now)
    dns = ScriptedDns({"abuse-api.example": [["169.254.169.254"]]}).install(monkeypatch)
    _send_all(now + 2 * HOUR)
    notice = Notice.objects.get()
    assert notice.state == NoticeState.FAILED and "cloud metadata" in notice.last_error
    assert dns.connects == []


def test_a_provider_answer_is_stored_short_and_escaped_and_shown_only_to_managers(
        make_contact: MakeContact, traced_item: MakeTraced, settings: Any, login: Any, manager: Any,
        analyst: Any) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    now = timezone.now()
    with ProviderApi() as api:
        contact = make_contact(channel="api", endpoint=api.url)
        traced_item(contact, due=now)
        notice_step(now=now)
        api.fail_next(1, 502)
        _send_all(now + 2 * HOUR)
    notice = Notice.objects.get()
    assert notice.state == NoticeState.QUEUED and notice.last_error.startswith("API answered HTTP 502")
    assert len(notice.last_error) < 250 and "\n" not in notice.last_error
    url = reverse("takedown:notice", args=[notice.pk])
    assert "HTTP 502" in login(manager).get(url).content.decode()
    page = login(analyst).get(url).content.decode()
    assert "delivery failed (HTTP 502)" in page and notice.last_error not in page
