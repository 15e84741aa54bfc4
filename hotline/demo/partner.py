"""A partner hotline on a loopback thread for the simulation: it receives our signed forwards and answers
each with its own signed acknowledgement, as a real installation's exchange endpoint does."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from hotline.audit.services import SYSTEM
from hotline.lib import signing
from hotline.partners import protocol
from hotline.partners.directory import save_hotline
from hotline.partners.models import PartnerHotline

ENDPOINT = "/api/v1/exchange/messages"


class LoopbackPartner:
    """The partner hotline serving ``countries``; ``received`` lists the messages it was sent."""

    def __init__(self, code: str = "nl-sim", countries: tuple[str, ...] = ("NL",)) -> None:
        self.code, self.countries = code, countries
        self.key = Ed25519PrivateKey.generate()
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    def __enter__(self) -> LoopbackPartner:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{ENDPOINT}"

    def register(self) -> PartnerHotline:
        """Put this partner in our directory (its endpoint, its public key, the countries it serves)."""
        existing = PartnerHotline.objects.filter(code=self.code).first()
        return save_hotline({
            "code": self.code, "name": f"Partner hotline {self.code} (simulated)", "countries": list(self.countries),
            "endpoint": self.url, "public_key": signing.public_b64(self.key), "languages": ["en"],
            "contact_email": f"exchange@{self.code}.example", "active": True}, actor=SYSTEM, hotline=existing)

    def answer(self, raw: bytes) -> bytes:
        message = json.loads(raw)["message"]
        with self.lock:
            self.received.append(message)
        now = timezone.now()
        ack = protocol.make_message("ack", sender=self.code, recipient=message["sender"], created_at=now,
                                    sent_at=now, body={"ref": message["id"], "outcome": "accepted",
                                                       "reference": f"{self.code.upper()}-{len(self.received)}"})
        return protocol.wire_bytes(protocol.seal(ack, self.key))


def _handler(partner: LoopbackPartner) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 1 << 20))
            body = partner.answer(raw)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
