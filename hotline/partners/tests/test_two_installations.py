"""Two live installations on loopback: A is this test process (its database, its live server for B's
statuses, its worker step called directly); B is a subprocess with its own SQLite file, keys and code.
They exchange forwards and statuses; B goes down for a while; a crash makes A resend the same id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from django.utils import timezone

from hotline.audit.services import SYSTEM
from hotline.lib import signing
from hotline.partners import delivery
from hotline.partners.delivery import HttpTransport, Reply
from hotline.partners.models import Forward, InboundMessage, OutboundMessage, PartnerHotline
from hotline.partners.services import forward_item, our_public_key, save_hotline
from hotline.partners.steps import exchange_step
from hotline.partners.tests.conftest import MakeItem
from hotline.partners.tests.peer import peer_env, run, start, stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
URLS = [f"http://files.hosting-nl.sim.test/gallery/{n}.html" for n in range(3)]


@dataclass
class Installation:
    env: dict[str, str]
    port: int
    directory_file: Path
    process: Popen[bytes]
    hotline: PartnerHotline  # B as it appears in A's directory

    def facts(self) -> Any:
        return run(self.env, "facts")


@pytest.fixture
def installation_b(tmp_path: Path, live_server: Any, settings: Any) -> Iterator[Installation]:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    private, public = signing.new_keypair()
    home = tmp_path / "b"
    home.mkdir()
    directory_file = tmp_path / "b-directory.json"
    directory_file.write_text(json.dumps({"hotlines": [{
        "code": "be-hotline", "name": "Installation A", "countries": ["BE"], "public_key": our_public_key(),
        "endpoint": f"{live_server.url}/api/v1/exchange/messages", "languages": ["nl", "fr"]}]}))
    env = peer_env(home, code="nl-sim", signing_key=private)
    process, port = start(env, 0, directory_file)
    hotline = save_hotline({"code": "nl-sim", "name": "Installation B", "countries": ["NL"], "public_key": public,
                            "endpoint": f"http://127.0.0.1:{port}/api/v1/exchange/messages", "languages": ["nl"],
                            "contact_email": "", "active": True}, actor=SYSTEM)
    installation = Installation(env, port, directory_file, process, hotline)
    try:
        yield installation
    finally:
        stop(installation.process)


class CrashAfterPost:
    """The worker dies after the partner answered and before it recorded the answer."""

    def post(self, url: str, body: bytes) -> Reply:
        HttpTransport(timeout=10, allow_loopback=True).post(url, body)
        raise SystemExit("worker killed")


def test_two_installations_exchange_forwards_and_statuses(installation_b: Installation,
                                                          make_item: MakeItem) -> None:
    b = installation_b
    # 1. A forwards an item: B stores a partner report with the URL, and A's forward is received.
    first = forward_item(make_item(URLS[0]), b.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    assert exchange_step() is True
    first.refresh_from_db()
    assert first.status == "received" and first.partner_reference.startswith("HL-")
    facts = b.facts()
    assert facts["partner_reports"] == [URLS[0]] and facts["external_refs"] == [f"be-hotline:item-{first.item_id}"]

    # 2. B's analyst assesses it and B's takedown removes it: both statuses come back to A.
    assert run(b.env, "assess", URLS[0]) == {"reported": True, "sent": True}
    assert run(b.env, "status", URLS[0], "removed") == {"queued": 1, "sent": True}
    first.refresh_from_db()
    assert first.status == "removed" and first.assessed_at and first.removed_at
    assert [e.status for e in first.events.all()] == ["received", "assessed", "removed"]

    # 3. B is down for a while: A's message stays queued with growing delays, then goes through once.
    stop(b.process)
    second = forward_item(make_item(URLS[1]), b.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    start_at = timezone.now()
    exchange_step(now=start_at)
    exchange_step(now=start_at + timedelta(seconds=30))
    message = OutboundMessage.objects.get(pk=second.message_id)
    assert (message.state, message.attempts) == ("pending", 2)
    assert message.next_attempt_at == start_at + timedelta(seconds=90) and message.last_error
    assert exchange_step(now=start_at + timedelta(seconds=60)) is False  # backing off
    b.process, _ = start(b.env, b.port, b.directory_file)  # the port A knows
    assert exchange_step(now=start_at + timedelta(minutes=10)) is True
    second.refresh_from_db()
    assert second.status == "received"

    # 4. A crash after B answered: A resends the same id after the lease; B stores nothing twice.
    third = forward_item(make_item(URLS[2]), b.hotline, trace=None, actor=SYSTEM, now=timezone.now())
    with pytest.raises(SystemExit):
        exchange_step(transport=CrashAfterPost())
    assert exchange_step(now=timezone.now() + delivery.LEASE + timedelta(seconds=1)) is True
    third.refresh_from_db()
    assert third.status == "received"
    facts = b.facts()
    assert facts["partner_reports"] == URLS
    assert facts["inbound"] == {"accepted": 3, "duplicate": 1}
    assert facts["outbound"] == {"delivered": 2}
    assert Forward.objects.filter(status="received").count() == 2
    assert dict(InboundMessage.objects.values_list("outcome", "http_status").distinct()) == {"accepted": 200}
