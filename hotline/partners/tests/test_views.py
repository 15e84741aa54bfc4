"""Forwards pages (status history), the inbound message log and sending a failed message again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.services import assess_item, claim_item
from hotline.assessment.tests.test_workflow import CLEAR
from hotline.audit.services import SYSTEM
from hotline.partners import protocol
from hotline.partners.models import OutboundMessage
from hotline.partners.services import forward_item
from hotline.partners.steps import exchange_step
from hotline.partners.tests.conftest import MakeItem, Peer, SimPartner, forward_body, post
from hotline.reports.models import Item

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


def _illegal(make_item: MakeItem, analyst: User) -> Item:
    item: Item = make_item()
    claim_item(item, user=analyst)
    assess_item(item, CLEAR, user=analyst)
    return item


def test_the_item_page_shows_delivery_and_the_status_history(
        login: Login, analyst: User, peer: Peer, sim_partner: SimPartner, make_item: MakeItem,
        loopback: None) -> None:
    item = _illegal(make_item, analyst)
    forward = forward_item(item, peer.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    exchange_step()
    body = {"forward_id": str(forward.message.message_id), "status": "removed", "at": protocol.iso(timezone.now()),
            "note": "gone at the host"}
    assert post(peer.seal(peer.message("status", body))).status_code == 200
    page = login(analyst).get(reverse("partners:item_forwards", kwargs={"pk": item.pk})).content.decode()
    assert "Forwarded to Partner nl-sim" in page and "NL-REF-1" in page
    assert page.index("<td>Received</td>") < page.index("<td>Removed</td>") and "gone at the host" in page
    listing = login(analyst).get(reverse("partners:forwards")).content.decode()
    assert item.canonical_url[:60] in listing and "Removed" in listing


def test_the_police_liaison_sees_forwards_of_illegal_items_only(
        login: Login, analyst: User, police: User, peer: Peer, make_item: MakeItem) -> None:
    illegal = _illegal(make_item, analyst)
    other = make_item()
    for item in (illegal, other):
        forward_item(item, peer.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    client = login(police)
    listing = client.get(reverse("partners:forwards")).content.decode()
    assert illegal.canonical_url in listing and other.canonical_url not in listing
    assert client.get(reverse("partners:item_forwards", kwargs={"pk": other.pk})).status_code == 404


def test_the_inbound_log_lists_every_outcome(login: Login, manager: User, peer: Peer) -> None:
    post(peer.seal(peer.message("forward", forward_body())))
    post({"message": peer.message("forward", forward_body())})
    post(b"nonsense")
    client = login(manager)
    page = client.get(reverse("partners:inbound")).content.decode()
    assert page.count("<tr>") == 4  # header + three messages
    assert "Accepted" in page and "Bad signature" in page and "Bad schema" in page
    only = client.get(reverse("partners:inbound") + "?outcome=bad_signature").content.decode()
    assert only.count("<tr>") == 2 and "signature" in only


def test_a_manager_sends_a_failed_message_again(
        login: Login, manager: User, peer: Peer, sim_partner: SimPartner, make_item: MakeItem,
        loopback: None) -> None:
    item = make_item()
    forward = forward_item(item, peer.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    sim_partner.mode = "status:401"
    exchange_step()
    message = OutboundMessage.objects.get()
    assert message.state == "failed"
    page = login(manager).get(reverse("partners:item_forwards", kwargs={"pk": item.pk})).content.decode()
    assert "Send again" in page and "HTTP 401" in page
    response = login(manager).post(reverse("partners:retry"), {"message": message.pk})
    assert response.status_code == 302 and response["Location"].endswith(f"/partners/forwards/items/{item.pk}/")
    sim_partner.mode = "ack"
    exchange_step(now=timezone.now() + timedelta(seconds=1))
    forward.refresh_from_db()
    assert forward.status == "received"
    again = login(manager).post(reverse("partners:retry"), {"message": message.pk}, follow=True)
    assert "no failed message" in again.content.decode()
