"""Partner-exchange fixtures: a partner with its own key, signed messages from it, and a simulated
partner hotline on a loopback thread that verifies what we send and answers with signed acks."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from hotline.audit.services import SYSTEM
from hotline.lib import signing
from hotline.partners import protocol, receive
from hotline.partners.models import PartnerHotline
from hotline.partners.services import our_code, our_public_key, save_hotline

ENDPOINT = "/api/v1/exchange/messages"
SHA = "ab" * 32


@dataclass
class Peer:
    """A partner as the test plays it: its directory row and its private key."""

    hotline: PartnerHotline
    key: Ed25519PrivateKey

    @property
    def code(self) -> str:
        return self.hotline.code

    def message(self, kind: str, body: dict[str, Any], *, message_id: str | None = None,
                created_at: datetime | None = None, sent_at: datetime | None = None,
                recipient: str | None = None) -> dict[str, Any]:
        now = timezone.now()
        return protocol.make_message(kind, sender=self.code, recipient=recipient or our_code(), body=body,
                                     message_id=message_id, created_at=created_at or now, sent_at=sent_at or now)

    def seal(self, message: dict[str, Any]) -> dict[str, Any]:
        return protocol.seal(message, self.key)


def forward_body(url: str = "http://files.hosting.sim.test/a/1.html", **extra: Any) -> dict[str, Any]:
    return {"url": url, "reference": "NL-123", "trace": {"country": "BE", "host": "files.hosting.sim.test"},
            "assessment": {"scheme": "hotline/1", "verdict": "baseline", "is_virtual": False},
            "media": [{"sha256": SHA, "md5": "cd" * 16}], **extra}


def post(wire: Any, client: Client | None = None) -> Any:
    raw = wire if isinstance(wire, bytes | str) else json.dumps(wire)
    return (client or Client()).post(ENDPOINT, raw, content_type="application/json")


def make_peer(code: str = "nl-sim", *, endpoint: str = "http://127.0.0.1:9/api/v1/exchange/messages",
              countries: list[str] | None = None) -> Peer:
    key = Ed25519PrivateKey.generate()
    hotline = save_hotline({"code": code, "name": f"Partner {code}", "countries": countries or ["NL"],
                            "endpoint": endpoint, "public_key": signing.public_b64(key), "languages": ["en"],
                            "contact_email": f"exchange@{code}.example", "active": True}, actor=SYSTEM)
    return Peer(hotline, key)


@pytest.fixture
def peer(db: None) -> Peer:
    return make_peer()


# ------------------------------------------------------------------ a simulated partner on loopback


@dataclass
class SimPartner:
    """A partner hotline's endpoint: verifies our signature, records messages, answers as told.

    ``mode``: "ack" (a signed ack), "status:<code>" (that HTTP status), "bad_ack" (an ack signed by
    another key), "wrong_ref" (an ack for another id), "drop" (close without answering),
    "refuse_assessed" (503 for "assessed" statuses, acks for the rest), "clock_ahead" (its clock is an hour
    ahead: the receiver's own window check refuses our ``sent_at``).
    """

    key: Ed25519PrivateKey
    code: str = "nl-sim"
    mode: str = "ack"
    received: list[dict[str, Any]] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ENDPOINT}"

    def answer(self, raw: bytes) -> tuple[int, bytes]:
        wire = json.loads(raw)
        message = wire["message"]
        self.received.append(message)
        self.verified.append(signing.verify(signing.public_key(our_public_key()), message, wire["signature"]))
        if self.mode == "refuse_assessed" and message["body"].get("status") == "assessed":
            return 503, b'{"outcome":"busy","field":null,"detail":"later"}'
        if self.mode == "clock_ahead":
            try:
                receive.check_window(protocol.parse_envelope(message), timezone.now() + timedelta(hours=1))
            except protocol.ProtocolError as exc:
                refusal = {"outcome": exc.outcome, "field": exc.field, "detail": exc.detail}
                return exc.status, json.dumps(refusal).encode()
        if self.mode.startswith("status:"):
            return int(self.mode.split(":")[1]), b'{"outcome":"bad_schema","field":"x","detail":"refused"}'
        ref = str(uuid.uuid4()) if self.mode == "wrong_ref" else message["id"]
        now = timezone.now()
        ack = protocol.make_message("ack", sender=self.code, recipient=message["sender"], created_at=now,
                                    sent_at=now, body={"ref": ref, "outcome": "accepted", "reference": "NL-REF-1"})
        key = Ed25519PrivateKey.generate() if self.mode == "bad_ack" else self.key
        return 200, protocol.wire_bytes(protocol.seal(ack, key))


def _handler(partner: SimPartner) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if partner.mode == "drop":
                self.close_connection = True
                return
            status, body = partner.answer(raw)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def sim_partner(peer: Peer) -> Iterator[SimPartner]:
    partner = SimPartner(key=peer.key, code=peer.code)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(partner))
    partner.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    save_hotline({"endpoint": partner.url}, actor=SYSTEM, hotline=peer.hotline)
    try:
        yield partner
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def loopback(settings: Any) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True


MakeItem = Callable[..., Any]
