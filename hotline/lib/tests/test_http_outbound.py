"""The outbound client for channel endpoints (hotline.lib.http.OutboundClient / request): real HTTP
servers on loopback, the rebinding DNS stub, and a connect guard that refuses anything off this machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hotline.lib.http import (
    FetchError,
    FetchPolicy,
    OutboundClient,
    answer_summary,
    printable_excerpt,
    request,
)
from hotline.sim.loopback import serve_in_thread, stop_serving
from hotline.sim.rebind import ScriptedDns

PUBLIC = "93.184.215.14"  # never reached: the guard refuses every non-loopback connect


class _Server:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.connections: set[int] = set()
        self.port = 0


@pytest.fixture
def server() -> Iterator[_Server]:
    state = _Server()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so pooling is visible

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.connections.add(self.client_address[1])
            state.seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                answer = b""
            elif self.path == "/huge":
                self.send_response(200)
                answer = b"x" * 5000
            else:
                self.send_response(200)
                answer = json.dumps({"ok": True}).encode()
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = serve_in_thread(httpd)
    try:
        yield state
    finally:
        stop_serving(httpd, thread)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> ScriptedDns:
    return ScriptedDns({"partner.example": [["127.0.0.1"]], "rebind.example": [[PUBLIC], ["127.0.0.1"]],
                        "private.example": [["127.0.0.1"], ["192.168.1.4"]]}).install(monkeypatch)


LOOPBACK = FetchPolicy(allow_loopback=True, max_redirects=0, total_timeout=10)


def test_it_posts_a_body_and_headers_to_the_checked_address_with_the_name_as_host(
        server: _Server, dns: ScriptedDns) -> None:
    answer = request("POST", f"http://partner.example:{server.port}/in", policy=LOOPBACK, content=b'{"a":1}',
                     headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"})
    assert answer.status_code == 200 and answer.peer_ip == "127.0.0.1" and json.loads(answer.body) == {"ok": True}
    [seen] = server.seen
    assert seen["body"] == b'{"a":1}' and seen["headers"]["Idempotency-Key"] == "k-1"
    assert seen["headers"]["Host"] == f"partner.example:{server.port}"
    assert dns.calls == ["partner.example"] and dns.connects == [("127.0.0.1", server.port)]


def test_it_sends_multipart_files(server: _Server, dns: ScriptedDns) -> None:
    request("POST", f"http://127.0.0.1:{server.port}/in", policy=LOOPBACK,
            files={"summary": ("summary.json", b'{"x": 2}', "application/json")})
    [seen] = server.seen
    assert seen["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'filename="summary.json"' in seen["body"] and b'{"x": 2}' in seen["body"]


def test_a_rebinding_name_goes_to_the_checked_public_address_never_to_loopback(
        server: _Server, dns: ScriptedDns) -> None:
    policy = FetchPolicy(allowed_ports=frozenset({server.port}), total_timeout=10)
    with pytest.raises(FetchError) as failed:
        request("POST", f"http://rebind.example:{server.port}/in", policy=policy, content=b"x")
    assert failed.value.code == "connect_failed" and failed.value.retryable
    assert dns.connects == [(PUBLIC, server.port)] and server.seen == []


def test_a_pooled_client_reuses_connections_but_checks_every_answer(server: _Server, dns: ScriptedDns) -> None:
    with OutboundClient(LOOPBACK) as client:
        for _ in range(3):
            assert client.request("POST", f"http://partner.example:{server.port}/in", content=b"x").status_code == 200
        assert client.request("POST", f"http://private.example:{server.port}/in", content=b"x").status_code == 200
        with pytest.raises(FetchError) as refused:  # the name now answers a private address: no pooled reuse
            client.request("POST", f"http://private.example:{server.port}/in", content=b"x")
    assert refused.value.code == "blocked_address" and not refused.value.retryable
    assert len(server.connections) == 2, "one kept-alive connection per checked origin"
    assert dns.connects == [("127.0.0.1", server.port)] * 2


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/",
                                 "http://[::1]:8080/", "file:///etc/passwd", "http://partner.example:22/"])
def test_forbidden_targets_are_refused_before_any_connect_and_never_retried(url: str, dns: ScriptedDns) -> None:
    with pytest.raises(FetchError) as refused:
        request("POST", url, policy=FetchPolicy(), content=b"x")
    assert not refused.value.retryable and dns.connects == []


def test_redirects_are_answers_not_followed(server: _Server, dns: ScriptedDns) -> None:
    answer = request("POST", f"http://127.0.0.1:{server.port}/redirect", policy=LOOPBACK, content=b"x")
    assert answer.status_code == 302 and dns.connects == [("127.0.0.1", server.port)]


def test_an_oversized_answer_is_refused(server: _Server, dns: ScriptedDns) -> None:
    policy = FetchPolicy(allow_loopback=True, max_body_bytes=1000)
    with pytest.raises(FetchError) as refused:
        request("POST", f"http://127.0.0.1:{server.port}/huge", policy=policy, content=b"x")
    assert refused.value.code == "too_large" and refused.value.retryable


def test_headers_the_client_owns_cannot_be_overridden(dns: ScriptedDns) -> None:
    with pytest.raises(ValueError, match="Host"):
        request("POST", "http://127.0.0.1:9/", policy=LOOPBACK, headers={"Host": "internal"})


def test_answers_from_outside_are_summarised_short_and_printable() -> None:
    hostile = "<b>bad</b>\r\n\x1b[31m\u202egnp.exe\x00 ünïcode" + "A" * 500
    summary = answer_summary(502, hostile.encode())
    assert summary.startswith("HTTP 502: <b>bad</b> \\x1b[31m\\u202egnp.exe\\x00 \\xfcn\\xefcode")
    assert len(summary) <= len("HTTP 502: ") + 120 + 1 and summary.endswith("…") and summary.isprintable()
    assert answer_summary(503, b"") == "HTTP 503"
    assert printable_excerpt("a\\b") == "a\\\\b"


def test_https_pins_the_address_but_keeps_the_name_for_sni_and_the_certificate(dns: ScriptedDns) -> None:
    from hotline.sim.web import SimWeb

    with SimWeb(tls=True) as web:
        policy = FetchPolicy(allow_loopback=True, ca_bundle=web.ca_file, host_map={"shop.sim.test": "127.0.0.1"})
        with OutboundClient(policy) as client:
            answer = client.request("GET", f"https://shop.sim.test:{web.port}/echo")
            assert answer.status_code == 200 and answer.peer_ip == "127.0.0.1"
            assert web.sni_names[-1:] == ["shop.sim.test"]
            other = FetchPolicy(allow_loopback=True, ca_bundle=web.ca_file, host_map={"other.example": "127.0.0.1"})
            with pytest.raises(FetchError) as refused:  # same address, a name the certificate does not cover
                request("GET", f"https://other.example:{web.port}/", policy=other)
    assert refused.value.code == "tls_error"
