"""The safe fetcher reads answers as httpcore and h11 did: for every answer below (usual, unusual and malformed),
``fetch`` gives the same status, headers, body and redirects, or the same error code and message, as the
fetcher's previous hop (httpcore's ``HTTPConnection`` over the same pinned connection, kept here as the
reference), and sends the same request bytes. Everything on loopback."""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import h11
import httpcore
import pytest

from hotline.lib import http
from hotline.lib.http import FetchError, FetchPolicy, fetch
from hotline.lib.netguard import parse_ip

POLICY = FetchPolicy(allow_loopback=True, total_timeout=5, read_timeout=2, connect_timeout=2)
BODY = b"<!doctype html><p>hello</p>"
ZIPPED = gzip.compress(b"x" * 5000)
BIG_HEADER = b"X-Big: " + b"a" * (120 * 1024) + b"\r\n"


def _reference_hop(target, addresses, policy, deadline, method, ssl_context):  # type: ignore[no-untyped-def]
    """The fetcher's hop before it read answers itself: httpcore's connection and h11, as it was."""
    backend = http._PinnedBackend(target.host, addresses, deadline, policy.port_map)
    scheme, host = target.scheme.encode(), target.host.encode("ascii")
    timeouts = {"connect": policy.connect_timeout, "read": policy.read_timeout, "write": policy.read_timeout,
                "pool": policy.connect_timeout}
    with (
        httpcore.HTTPConnection(origin=httpcore.Origin(scheme, host, target.port), ssl_context=ssl_context,
                                http1=True, http2=False, retries=0, network_backend=backend) as conn,
        conn.stream(method, httpcore.URL(scheme=scheme, host=host, port=target.port, target=target.target),
                    headers=http._request_headers(target.host_header, policy.user_agent),
                    extensions={"timeout": timeouts}) as response,
    ):
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers]
        peer = backend.peer_ip or ""
        location = next((v for k, v in headers if k.lower() == "location"), None)
        if response.status in http.REDIRECT_STATUSES and location is not None:
            return http._Hop(response.status, headers, b"", peer, location.strip())
        return http._Hop(response.status, headers, http._read_body(response, headers, policy, deadline), peer, None)


@dataclass(frozen=True)
class Script:
    """What the server sends: pieces with a pause between them, then it closes (or holds the line)."""

    pieces: tuple[bytes, ...]
    hold: float = 0.0


def cl(status: str, body: bytes, *extra: bytes, version: bytes = b"HTTP/1.1") -> Script:
    head = version + b" " + status.encode() + b"\r\n" + b"".join(extra)
    return Script((head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,))


ANSWERS: dict[str, Script] = {
    "usual": cl("200 OK", BODY, b"Content-Type: text/html\r\n"),
    "in pieces": Script((b"HTTP/1.1 200 OK\r\nContent-", b"Length: 27\r\n\r", b"\n<!doctype html>",
                         b"<p>hello</p>")),
    "body in many reads": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n", *[b"z" * 3000] * 10)),
    "empty body": cl("200 OK", b""),
    "length with spaces": Script((b"HTTP/1.1 200 OK\r\nContent-Length:   5  \r\n\r\nhello",)),
    "more than the length": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhello",)),
    "closed before the length": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello",)),
    "same length twice": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",)),
    "lengths in one header": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",)),
    "conflicting lengths": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 4\r\n\r\nhello",)),
    "bad length": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello",)),
    "negative length": Script((b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",)),
    "huge length": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999999\r\n\r\nhello",)),
    "declared too large": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nhello",)),
    "chunked": Script((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",)),
    "chunked and length": Script((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
                                  b"5\r\nhello\r\n0\r\n\r\n",)),
    "gzip transfer coding": Script((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",)),
    "broken chunks": Script((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",)),
    "to the close": Script((b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello until the end",)),
    "HTTP/1.0 with a length": cl("200 OK", BODY, version=b"HTTP/1.0"),
    "HTTP/1.0 to the close": Script((b"HTTP/1.0 200 OK\r\n\r\nhello",)),
    "HTTP/2.0 status line": cl("200 OK", BODY, version=b"HTTP/2.0"),
    "no reason": Script((b"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello",)),
    "empty reason": Script((b"HTTP/1.1 200 \r\nContent-Length: 5\r\n\r\nhello",)),
    "no content": Script((b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",)),
    "not modified": Script((b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",)),
    "not found": cl("404 Not Found", b"gone"),
    "server error": cl("503 Busy", b"later", b"Retry-After: 5\r\n"),
    "continue first": Script((b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")),
    "switching": Script((b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw bytes",)),
    "redirect": cl("302 Found", b"moved", b"Location: /elsewhere\r\n"),
    "redirect without location": cl("302 Found", b"moved"),
    "folded header": Script((b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 5\r\n\r\nhello",)),
    "folded first": Script((b"HTTP/1.1 200 OK\r\n X-A: one\r\nContent-Length: 5\r\n\r\nhello",)),
    "bare line feeds": Script((b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",)),
    "mixed line ends": Script((b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 5\r\n\r\nhello",)),
    "carriage return inside": Script((b"HTTP/1.1 200 OK\r\nX-A: 1\r2\r\nContent-Length: 5\r\n\r\nhello",)),
    "space before the colon": Script((b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 5\r\n\r\nhello",)),
    "bad header name": Script((b"HTTP/1.1 200 OK\r\nX(A): 1\r\nContent-Length: 5\r\n\r\nhello",)),
    "header without colon": Script((b"HTTP/1.1 200 OK\r\nnonsense\r\nContent-Length: 5\r\n\r\nhello",)),
    "empty header value": Script((b"HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 5\r\n\r\nhello",)),
    "latin-1 header": Script((b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 5\r\n\r\nhello",)),
    "nul in header": Script((b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 5\r\n\r\nhello",)),
    "short status": Script((b"HTTP/1.1 20 OK\r\nContent-Length: 5\r\n\r\nhello",)),
    "not HTTP": Script((b"ICY 200 OK\r\nContent-Length: 5\r\n\r\nhello",)),
    "lower-case http": Script((b"http/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",)),
    "blank line first": Script((b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",)),
    "space first": Script((b" HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",)),
    "nothing": Script(()),
    "half a head": Script((b"HTTP/1.1 200 OK\r\nContent-Le",)),
    "head too long": Script((b"HTTP/1.1 200 OK\r\n" + BIG_HEADER + b"Content-Length: 5\r\n\r\nhello",)),
    "head too long in pieces": Script((b"HTTP/1.1 200 OK\r\n", *(BIG_HEADER[i:i + 30000] for i in range(
        0, len(BIG_HEADER), 30000)), b"Content-Length: 5\r\n\r\nhello")),
    "gzip body": cl("200 OK", ZIPPED, b"Content-Encoding: gzip\r\n"),
    "unsupported encoding": cl("200 OK", b"hello", b"Content-Encoding: br\r\n"),
    "junk held open": Script((b"\x01junk",), hold=1.0),
    "silent": Script((), hold=3.0),
    "head then silence": Script((b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhel",), hold=3.0),
}


class Server:
    """Loopback, a thread per connection: each gets the script set when it came; the requests are kept."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.script = Script(())
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client hung up first (HEAD, caps, errors): as it may
            self._script(conn)

    def _script(self, conn: socket.socket) -> None:
        script = self.script
        conn.settimeout(5)
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(65536)
            if not data:
                break
            request += data
        self.requests.append(request)
        for piece in script.pieces:
            conn.sendall(piece)
            time.sleep(0.01)
        time.sleep(script.hold)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    served = Server()
    yield served
    served.close()


def outcome(server: Server, script: Script, method: str, *, reference: bool) -> tuple[object, bytes]:
    server.script = script
    hop = http._one_hop
    if reference:
        http._one_hop = _reference_hop
    try:
        result = fetch(f"http://127.0.0.1:{server.port}/a?b=1", policy=POLICY, method=method)  # type: ignore[arg-type]
        seen: object = (result.status_code, result.headers, result.body, result.final_url, result.peer_ip,
                        result.redirects)
    except FetchError as exc:
        seen = ("error", exc.code, exc.message, exc.retryable, exc.url)
    finally:
        http._one_hop = hop
    return seen, server.requests[-1]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_it_reads_every_answer_as_httpcore_did(server: Server, name: str, method: str) -> None:
    if ANSWERS[name].hold > 1 and method == "HEAD":
        pytest.skip("the waits are the same for HEAD")
    expected = outcome(server, ANSWERS[name], method, reference=True)
    assert outcome(server, ANSWERS[name], method, reference=False) == expected


def test_it_takes_the_usual_answer_without_h11(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual answer is read without an h11 connection; the request bytes are h11's, built once per URL."""
    made: list[object] = []
    real = h11.Connection

    def counted(*args: Any, **kwargs: Any) -> h11.Connection:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(h11, "Connection", counted)
    http._request_bytes.cache_clear()
    for _ in range(3):
        assert outcome(server, ANSWERS["usual"], "GET", reference=False)[0][:3] == (200, [  # type: ignore[index]
            ("Content-Type", "text/html"), ("Content-Length", str(len(BODY)))], BODY)
    assert len(made) == 1  # writing the request, once
    assert outcome(server, ANSWERS["chunked"], "GET", reference=False)[0][2] == b"hello"  # type: ignore[index]
    assert len(made) == 2  # h11 reading the chunked answer (the same URL: its request's bytes were kept)


def test_it_refuses_a_target_h11_refuses_as_before(server: Server) -> None:
    target = http._parse_target(f"http://127.0.0.1:{server.port}/x")
    bad = http._Target(target.url, target.scheme, target.host, target.ip, target.port, b"/a b", target.host_header)
    for hop in (_reference_hop, http._one_hop):
        with pytest.raises(httpcore.LocalProtocolError, match="Illegal target characters"):
            hop(bad, [parse_ip("127.0.0.1")], POLICY, http._Deadline(5), "GET", ssl.create_default_context())
