"""Police referrals over HTTP go through the pinned outbound client (issue 19, part 3): the endpoint is
resolved once and checked, the request goes to exactly that address, and an answer from outside is
stored as a short escaped summary that only managers see."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from hotline.routing.models import Decision, Referral, ReferralStatus
from hotline.routing.steps import referral_step
from hotline.sim.loopback import serve_in_thread, stop_serving
from hotline.sim.rebind import ScriptedDns

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.215.14"  # never reached: the connect guard refuses every non-loopback address


class _Police:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.status = 202
        self.answer = b""
        self.port = 0


@pytest.fixture
def police_api() -> Iterator[_Police]:
    state = _Police()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = serve_in_thread(server)
    try:
        yield state
    finally:
        stop_serving(server, thread)


@pytest.fixture
def referral_dir(settings: Any, tmp_path: Path) -> Path:
    settings.HOTLINE_REFERRAL_DIR = tmp_path / "referrals"
    settings.HOTLINE_POLICE_RECIPIENT_KEY = ""
    return tmp_path / "referrals"


@pytest.fixture
def domestic(assessed: Any, make_trace: Any, directory: dict[str, Any]) -> Decision:
    from django.utils import timezone

    from hotline.routing.services import route_item

    item = assessed("baseline")
    return route_item(item, trace=make_trace(item, "BE"), now=timezone.now())


def _endpoint(directory: dict[str, Any], url: str) -> None:
    police = directory["national"]
    police.channel, police.endpoint = "http", url
    police.save()


@pytest.mark.parametrize("allow_loopback", [True, False])
def test_it_never_follows_a_rebinding_name_to_loopback(
        domestic: Decision, referral_dir: Path, directory: dict[str, Any], police_api: _Police,
        monkeypatch: pytest.MonkeyPatch, settings: Any, allow_loopback: bool) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = allow_loopback
    settings.HOTLINE_OUTBOUND_ALLOWED_PORTS = [443, police_api.port]  # a public address on the test port
    dns = ScriptedDns({"police.example": [[PUBLIC], ["127.0.0.1"]]}).install(monkeypatch)
    _endpoint(directory, f"http://police.example:{police_api.port}/referrals")
    assert referral_step() is True
    assert police_api.received == [], "the request reached loopback through a second DNS answer"
    assert dns.calls == ["police.example"]  # one lookup, by the client that connects
    assert dns.connects == [(PUBLIC, police_api.port)]  # only the checked address was tried
    referral = Referral.objects.get()
    assert referral.status == ReferralStatus.QUEUED, "a connect failure is worth retrying"


@pytest.mark.parametrize("endpoint", ["http://169.254.169.254/latest/meta-data/",
                                      "http://metadata.example/latest/meta-data/",
                                      "http://10.0.0.8:8080/referrals"])
def test_a_metadata_or_private_endpoint_is_refused_with_a_clear_error(
        domestic: Decision, referral_dir: Path, directory: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        endpoint: str) -> None:
    dns = ScriptedDns({"metadata.example": [["169.254.169.254"]]}).install(monkeypatch)
    _endpoint(directory, endpoint)
    assert referral_step() is True
    referral = Referral.objects.get()
    assert referral.status == ReferralStatus.FAILED, "no retry can make a refused address acceptable"
    assert "refused" in referral.last_error
    assert ("cloud metadata" in referral.last_error) or ("private" in referral.last_error)
    assert dns.connects == []


def test_a_loopback_endpoint_outside_the_simulation_is_refused(
        domestic: Decision, referral_dir: Path, directory: dict[str, Any], police_api: _Police,
        settings: Any) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = False
    _endpoint(directory, f"http://127.0.0.1:{police_api.port}/referrals")
    referral_step()
    assert police_api.received == []
    assert Referral.objects.get().status == ReferralStatus.FAILED


HOSTILE = b"<script>alert('x')</script>\x1b[31m\xe2\x80\xaeevil" + b"A" * 500


def test_an_answer_from_outside_is_stored_short_and_escaped_and_shown_only_to_managers(
        domestic: Decision, referral_dir: Path, directory: dict[str, Any], police_api: _Police,
        settings: Any, login: Any, manager: Any, police: Any) -> None:
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    police_api.status, police_api.answer = 400, HOSTILE
    _endpoint(directory, f"http://127.0.0.1:{police_api.port}/referrals")
    referral_step()
    referral = Referral.objects.get()
    assert referral.status == ReferralStatus.FAILED
    assert referral.last_error.startswith("HTTP 400: <script>")
    assert "\x1b" not in referral.last_error and "\u202e" not in referral.last_error
    assert "\\x1b" in referral.last_error and len(referral.last_error) < 200
    url = reverse("routing:referral", args=[referral.pk])
    page = login(manager).get(url).content.decode()
    assert "&lt;script&gt;alert(" in page and "<script>alert" not in page
    page = login(police).get(url).content.decode()
    assert "alert" not in page and "HTTP 400" in page
