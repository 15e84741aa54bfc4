"""The exchange transport is the pinned, pooled outbound client (issue 19, part 3): a partner endpoint's
name is resolved once per message and the message goes to exactly the checked address or nowhere; what
a partner answers is stored as a short escaped summary that only managers see."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.services import assess_item, claim_item
from hotline.assessment.tests.test_workflow import CLEAR
from hotline.audit.services import SYSTEM
from hotline.partners import protocol
from hotline.partners.delivery import DeliveryError, HttpTransport
from hotline.partners.models import OutboundMessage
from hotline.partners.services import forward_item, our_code, our_key, save_hotline
from hotline.partners.steps import exchange_step
from hotline.partners.tests.conftest import ENDPOINT, MakeItem, Peer, SimPartner
from hotline.sim.rebind import ScriptedDns

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.215.14"  # never reached: the connect guard refuses every non-loopback address


def _named_endpoint(peer: Peer, sim_partner: SimPartner, settings: Any) -> None:
    settings.HOTLINE_OUTBOUND_ALLOWED_PORTS = [443, sim_partner.port]  # a public address on the test port
    save_hotline({"endpoint": f"http://partner.example:{sim_partner.port}{ENDPOINT}"}, actor=SYSTEM,
                 hotline=peer.hotline)


@pytest.mark.parametrize("allow_loopback", [True, False])
def test_a_rebinding_partner_name_never_reaches_loopback(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, settings: Any, monkeypatch: pytest.MonkeyPatch,
        allow_loopback: bool) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = allow_loopback
    _named_endpoint(peer, sim_partner, settings)
    forward_item(make_item(), peer.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    dns = ScriptedDns({"partner.example": [[PUBLIC], ["127.0.0.1"]]}).install(monkeypatch)
    exchange_step()
    assert sim_partner.received == [], "the message reached loopback through a second DNS answer"
    assert dns.calls == ["partner.example"]
    assert dns.connects == [(PUBLIC, sim_partner.port)]
    message = OutboundMessage.objects.get()
    assert message.state == "pending" and message.next_attempt_at is not None  # retried later


def test_a_pooled_connection_does_not_skip_the_check_of_a_new_answer(
        peer: Peer, sim_partner: SimPartner, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    dns = ScriptedDns({"partner.example": [["127.0.0.1"], ["10.0.0.7"]]}).install(monkeypatch)
    transport = HttpTransport(timeout=5, allow_loopback=True)
    url = f"http://partner.example:{sim_partner.port}{ENDPOINT}"
    now = timezone.now()
    wire = protocol.wire_bytes(protocol.seal(protocol.make_message(
        "forward", sender=our_code(), recipient=peer.code, body={}, created_at=now, sent_at=now), our_key()))
    sim_partner.mode = "status:503"
    try:
        assert transport.post(url, wire).status == 503
        with pytest.raises(DeliveryError, match=r"10\.0\.0\.7 of partner\.example is private") as refused:
            transport.post(url, wire)
    finally:
        transport.close()
    assert refused.value.retryable is False
    assert dns.connects == [("127.0.0.1", sim_partner.port)]  # one connection, to the checked address


def test_a_partner_answer_is_stored_short_and_escaped_and_shown_only_to_managers(
        peer: Peer, sim_partner: SimPartner, make_item: MakeItem, loopback: None, login: Any, analyst: User,
        manager: User) -> None:
    item = make_item()
    claim_item(item, user=analyst)
    assess_item(item, CLEAR, user=analyst)
    forward_item(item, peer.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    sim_partner.mode = "status:503"
    exchange_step()
    message = OutboundMessage.objects.get()
    assert message.last_error.startswith('HTTP 503: {"outcome":"bad_schema"')
    url = reverse("partners:item_forwards", kwargs={"pk": item.pk})
    assert "bad_schema" in login(manager).get(url).content.decode()
    page = login(analyst).get(url).content.decode()
    assert "delivery failed (HTTP 503)" in page and "bad_schema" not in page
