"""A simulated web on loopback for tests and the demo.

One threaded HTTP(S) server on ``127.0.0.1`` (or ``::1``) with an OS-chosen
port answers for many host names; requests are dispatched on the ``Host``
header.  The fetcher reaches the names through ``FetchPolicy.host_map``
(:meth:`SimWeb.host_map` / :meth:`SimWeb.fetch_policy`).  Everything served is
synthetic (see :mod:`hotline.sim.images`).

Extend it by subclassing and overriding :meth:`SimWeb.install_routes`, or by
calling :meth:`SimWeb.add_route` / :meth:`SimWeb.set_page` at runtime::

    with SimWeb() as sim:
        sim.set_page("shop.sim.test", "/item/1", b"<p>hello</p>")
        result = fetch(sim.url("shop.sim.test", "/item/1"), policy=sim.fetch_policy())
        sim.set_page("shop.sim.test", "/item/1", b"gone", status=410)   # content removed

Built-in routes on every host (``{n}``, ``{seed}`` are integers):

========================================  ==========================================
``/``                                     HTML page embedding media (img, srcset,
                                          picture/source, video/source, CSS)
``/page/{n}``                             further small HTML pages
``/media/{kind}-{seed}.{ext}``            png/jpg/gif/webp/animated_gif (``?w=&h=``)
``/media/clip-{seed}.mp4`` / ``.webm``    playable 3 s synthetic clip (H.264 / VP8)
``/broken/truncated-{kind}-{seed}.{ext}`` half an image, image content type
``/broken/garbage-{seed}.{ext}``          random bytes, image content type
``/redirect/301``, ``/redirect/302``      redirect to ``/``
``/redirect/chain/{n}``                   ``n`` 302 hops, then 200
``/redirect/to?url=U&status=302``         redirect anywhere
``/redirect/private``                     302 to ``http://10.0.0.1/``
``/redirect/metadata``                    302 to ``http://169.254.169.254/...``
``/redirect/port/{port}``                 302 to ``http://127.0.0.1:{port}/echo``
``/slow?delay=S``                         sleep S seconds before the headers
``/drip?delay=S&chunks=N``                N body chunks, S seconds apart
``/huge?bytes=N``                         streamed chunked body (default 256 MiB)
``/huge-declared?bytes=N``                same with a ``Content-Length``
``/bomb.gz``, ``/bomb.deflate``           small body that inflates to ``bomb_bytes``
``/gzip``                                 ordinary gzip-encoded HTML
``/encoded/br``                           claims ``Content-Encoding: br``
``/status/{code}``                        e.g. 404, 410, 503 (with ``Retry-After``)
``/cookie``                               ``Set-Cookie`` then 302 to ``/echo``
``/echo``                                 JSON of the request line and headers
========================================  ==========================================
"""

from __future__ import annotations

import datetime
import functools
import http.server
import ipaddress
import json
import re
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from hotline.sim.images import (
    CONTENT_TYPES,
    EXTENSIONS,
    make_garbage,
    make_image,
    make_truncated,
    make_video_stub,
)
from hotline.sim.loopback import serve_in_thread, stop_serving

if TYPE_CHECKING:
    from hotline.lib.http import FetchPolicy

__all__ = ["SimRequest", "SimResponse", "SimWeb", "SimWebInfo"]

MiB = 1024 * 1024
HTML = "text/html; charset=utf-8"
DEFAULT_HOSTS = (
    "shop.sim.test",
    "gallery.sim.test",
    "forum.sim.test",
    "blog.sim.test",
    "files.sim.test",
    "cdn.sim.test",
)
_EXT_TO_KIND = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "webp": "webp"}


@dataclass(frozen=True)
class SimRequest:
    method: str
    host: str  # lower-case, port stripped
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    client: str

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def arg(self, name: str, default: str) -> str:
        return self.query.get(name, [default])[0]


@dataclass
class SimResponse:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str | None = HTML
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds before the status line
    chunk_delay: float = 0.0  # seconds between chunks of an iterable body


Handler = Callable[[SimRequest], SimResponse]


@dataclass(frozen=True)
class SimWebInfo:
    address: str
    port: int
    scheme: str
    hosts: tuple[str, ...]
    host_map: dict[str, str]
    ca_file: str | None


@dataclass
class _Route:
    host: str  # "*" = any known host
    pattern: re.Pattern[str]
    handler: Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, sim: SimWeb, address: str, tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sim = sim
        self.tls = tls
        super().__init__((address, 0), _RequestHandler)

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind: its socket.getfqdn() may do a DNS query.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(5)
        with self.tls.wrap_socket(request, server_side=True) as tls_sock:
            super().finish_request(tls_sock, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-body (caps, timeouts) are expected


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SimWeb/0.1"
    sys_version = ""
    timeout = 10
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.sim._dispatch(self)

    do_HEAD = do_GET
    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class SimWeb:
    """A loopback web server hosting many synthetic sites."""

    def __init__(
        self,
        hosts: Iterable[str] = DEFAULT_HOSTS,
        *,
        address: str = "127.0.0.1",
        tls: bool = False,
        bomb_bytes: int = 64 * MiB,
        suffixes: Iterable[str] = (),
        catch_all: bool = False,
    ) -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError("SimWeb only binds to loopback addresses")
        self.address = address
        self.tls = tls
        self.bomb_bytes = bomb_bytes
        self.hosts: list[str] = [h.lower() for h in hosts]
        #: Any host ending in one of these (e.g. ".sim.test") is served too (the demo's many sites).
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.catch_all = catch_all
        self.requests: list[SimRequest] = []
        self.sni_names: list[str | None] = []
        self.ca_file: str | None = None
        self._pages: dict[tuple[str, str], SimResponse] = {}
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: str | None = None
        self.install_routes()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SimWebInfo:
        if self._server is not None:
            raise RuntimeError("already started")
        context = self._make_tls_context() if self.tls else None
        self._stopping.clear()
        self._server = _Server(self, self.address, context)
        self._thread = serve_in_thread(self._server)
        return self.info

    def stop(self) -> None:
        self._stopping.set()
        stop_serving(self._server, self._thread)
        self._server = self._thread = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = self.ca_file = None

    def __enter__(self) -> SimWeb:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------- addressing

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("SimWeb is not started")
        return int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def host_map(self) -> dict[str, str]:
        mapped = {host: self.address for host in self.hosts}
        mapped.update({f"*{suffix}": self.address for suffix in self.suffixes})
        return mapped

    @property
    def info(self) -> SimWebInfo:
        return SimWebInfo(
            self.address, self.port, self.scheme, tuple(self.hosts), self.host_map, self.ca_file
        )

    def url(self, host: str, path: str = "/") -> str:
        name = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{name}:{self.port}{path}"

    def fetch_policy(self, **overrides: Any) -> FetchPolicy:
        """A FetchPolicy that reaches this server (loopback allowed, hosts mapped)."""
        from hotline.lib.http import FetchPolicy

        settings: dict[str, Any] = {
            "allow_loopback": True,
            "host_map": self.host_map,
            "ca_bundle": self.ca_file,
        }
        settings.update(overrides)
        return FetchPolicy(**settings)

    # ----------------------------------------------------- runtime content

    def add_host(self, host: str) -> None:
        with self._lock:
            if host.lower() not in self.hosts:
                self.hosts.append(host.lower())

    def set_page(
        self,
        host: str,
        path: str,
        body: bytes | str,
        status: int = 200,
        headers: Iterable[tuple[str, str]] = (),
        content_type: str | None = HTML,
    ) -> None:
        """Create or replace a static page (takes precedence over routes)."""
        data = body.encode() if isinstance(body, str) else body
        self.add_host(host)
        with self._lock:
            self._pages[(host.lower(), path)] = SimResponse(
                status, data, content_type, list(headers)
            )

    def remove_page(self, host: str, path: str) -> None:
        """Remove a page set with :meth:`set_page`; the path then 404s (or hits a route)."""
        with self._lock:
            self._pages.pop((host.lower(), path), None)

    def add_route(self, host: str, path_regex: str, handler: Handler) -> None:
        """Register ``handler`` for paths fully matching ``path_regex``; newest wins.

        ``host`` may be ``"*"`` for every host this server knows.
        """
        with self._lock:
            self._routes.insert(0, _Route(host.lower(), re.compile(path_regex), handler))

    def requests_to(self, host: str, path: str | None = None) -> list[SimRequest]:
        with self._lock:
            return [r for r in self.requests if r.host == host and (path is None or r.path == path)]

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, handler: _RequestHandler) -> None:
        split = urlsplit(handler.path)
        raw_host = (handler.headers.get("Host") or "").lower()
        if raw_host.startswith("["):
            host = raw_host[1:].partition("]")[0]
        else:
            host = raw_host.rpartition(":")[0] if ":" in raw_host else raw_host
        request = SimRequest(
            method=handler.command,
            host=host,
            path=split.path,
            query=parse_qs(split.query),
            headers=list(handler.headers.items()),
            client=str(handler.client_address[0]),
        )
        with self._lock:
            self.requests.append(request)
            page = self._pages.get((host, request.path))
            known = host in self.hosts or host == self.address or host.endswith(self.suffixes or ("\0",))
            routes = list(self._routes)
        response: SimResponse | None = page
        if response is None and known:
            for route in routes:
                if route.host in ("*", host) and route.pattern.fullmatch(request.path):
                    response = route.handler(request)
                    break
        if response is None:
            message = "unknown host" if not known else "not found"
            response = SimResponse(404, message.encode(), "text/plain")
        self._write(handler, request, response)

    def _write(self, handler: _RequestHandler, request: SimRequest, resp: SimResponse) -> None:
        if resp.delay and self._stopping.wait(resp.delay):
            return
        handler.close_connection = True
        handler.send_response(resp.status)
        names = {k.lower() for k, _ in resp.headers}
        if resp.content_type is not None and "content-type" not in names:
            handler.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers:
            handler.send_header(name, value)
        handler.send_header("Connection", "close")
        body = resp.body
        if isinstance(body, bytes):
            if "content-length" not in names:
                handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if request.method != "HEAD":
                handler.wfile.write(body)
            return
        chunked = "content-length" not in names
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        if request.method == "HEAD":
            return
        for piece in body:
            if resp.chunk_delay and self._stopping.wait(resp.chunk_delay):
                return
            if chunked:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                handler.wfile.write(piece)
            handler.wfile.flush()
        if chunked:
            handler.wfile.write(b"0\r\n\r\n")

    # -------------------------------------------------------------- routes

    def install_routes(self) -> None:
        """Register the built-in routes. Subclasses extend this (call super())."""
        add = self.add_route
        if self.catch_all:
            # Registered first, so it loses to every other route (newest wins): any other path on
            # any host is that host's synthetic page (the demo's URLs).
            add("*", r"/.*", lambda r: SimResponse(body=self.site_page(r.host).encode()))
        add("*", r"/", lambda r: SimResponse(body=self.site_page(r.host).encode()))
        add("*", r"/page/(\d+)", self._page_n)
        add("*", r"/media/(png|jpeg|gif|webp|animated_gif)-(\d+)\.(png|jpg|gif|webp)", self._media)
        add("*", r"/media/clip-(\d+)\.(mp4|webm)", self._clip)
        add("*", r"/media/ai-(c2pa|xmp|pngtext|exif|stripped)-(\d+)\.(png|jpg)", self._ai_media)
        add("*", r"/broken/truncated-(png|jpeg|gif|webp)-(\d+)\.(png|jpg|gif|webp)", self._trunc)
        add("*", r"/broken/garbage-(\d+)\.(png|jpg|gif|webp)", self._garbage)
        add("*", r"/redirect/(301|302)", lambda r: _redirect("/", int(r.path[-3:])))
        add("*", r"/redirect/chain/(\d+)", self._chain)
        add(
            "*",
            r"/redirect/to",
            lambda r: _redirect(r.arg("url", "/"), int(r.arg("status", "302"))),
        )
        add("*", r"/redirect/private", lambda r: _redirect("http://10.0.0.1/"))
        add(
            "*",
            r"/redirect/metadata",
            lambda r: _redirect("http://169.254.169.254/latest/meta-data/"),
        )
        add("*", r"/redirect/port/(\d+)", lambda r: _redirect(f"http://127.0.0.1:{_num(r)}/echo"))
        add("*", r"/slow", self._slow)
        add("*", r"/drip", self._drip)
        add("*", r"/huge(-declared)?", self._huge)
        add("*", r"/bomb\.(gz|deflate)", self._bomb)
        add("*", r"/gzip", self._gzip)
        add(
            "*",
            r"/encoded/br",
            lambda r: SimResponse(body=make_garbage(7, 256), headers=[("Content-Encoding", "br")]),
        )
        add("*", r"/status/(\d{3})", self._status)
        add(
            "*",
            r"/cookie",
            lambda r: _redirect(
                "/echo",
                extra=[
                    ("Set-Cookie", "session=sim-secret; Path=/"),
                    ("Set-Cookie", "track=1; Path=/"),
                ],
            ),
        )
        add("*", r"/echo", self._echo)

    def site_seed(self, host: str) -> int:
        return zlib.crc32(host.encode()) % 1000

    def site_media(self, host: str) -> list[str]:
        """Paths (or absolute URLs for the CDN) of the media :meth:`site_page` embeds."""
        s = self.site_seed(host)
        cdn = self.url("cdn.sim.test", f"/media/png-{s + 1}.png")
        return [
            f"/media/jpeg-{s}.jpg",
            cdn,
            f"/media/webp-{s}.webp",
            f"/media/png-{s + 2}.png",
            f"/media/gif-{s}.gif",
            f"/media/webp-{s + 3}.webp",
            f"/media/jpeg-{s + 3}.jpg",
            f"/media/png-{s + 4}.png",
            f"/media/clip-{s}.mp4",
            f"/media/animated_gif-{s}.gif",
            f"/media/png-{s + 5}.png",
        ]

    def site_page(self, host: str) -> str:
        m = self.site_media(host)
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{host} (simulated)</title>
<style>.hero {{ background-image: url("{m[10]}"); height: 48px; }}</style></head>
<body>
<h1>Synthetic site {host}</h1>
<p>Generated test content: gradients, shapes and noise patterns only.</p>
<img src="{m[0]}" alt="pattern" width="64" height="48">
<img src="{m[1]}" alt="cdn pattern">
<img src="{m[4]}" srcset="{m[2]} 1x, {m[3]} 2x" alt="srcset pattern">
<picture>
  <source srcset="{m[5]}" type="image/webp">
  <img src="{m[6]}" alt="picture fallback">
</picture>
<video controls width="64" poster="{m[7]}">
  <source src="{m[8]}" type="video/mp4">
</video>
<div style="background-image: url('{m[9]}'); width: 64px; height: 48px"></div>
<div class="hero"></div>
<p><a href="/page/2">next page</a> <a href="{m[0]}">direct link</a></p>
</body></html>
"""

    def _page_n(self, r: SimRequest) -> SimResponse:
        n = _num(r)
        body = f'<!doctype html><title>page {n}</title><img src="/media/png-{n}.png">'
        return SimResponse(body=body.encode())

    def _media(self, r: SimRequest) -> SimResponse:
        kind, seed, ext = _groups(r, r"/media/(\w+)-(\d+)\.(\w+)")
        if ext != EXTENSIONS[kind]:
            return SimResponse(404, b"wrong extension", "text/plain")
        size = (int(r.arg("w", "64")), int(r.arg("h", "48")))
        if not (0 < size[0] <= 2048 and 0 < size[1] <= 2048):
            return SimResponse(400, b"bad size", "text/plain")
        return SimResponse(body=_image(kind, int(seed), size), content_type=CONTENT_TYPES[kind])

    def _ai_media(self, r: SimRequest) -> SimResponse:
        marking, seed, _ext = _groups(r, r"/media/ai-(\w+)-(\d+)\.(\w+)")
        data, mime = _marked(marking, int(seed))
        return SimResponse(body=data, content_type=mime)

    def _clip(self, r: SimRequest) -> SimResponse:
        seed, ext = _groups(r, r"/media/clip-(\d+)\.(mp4|webm)")
        return SimResponse(body=_video(int(seed), ext), content_type=f"video/{ext}")

    def _trunc(self, r: SimRequest) -> SimResponse:
        kind, seed, _ext = _groups(r, r"/broken/truncated-(\w+)-(\d+)\.(\w+)")
        return SimResponse(body=make_truncated(kind, int(seed)), content_type=CONTENT_TYPES[kind])

    def _garbage(self, r: SimRequest) -> SimResponse:
        seed, ext = _groups(r, r"/broken/garbage-(\d+)\.(\w+)")
        kind = _EXT_TO_KIND[ext]
        return SimResponse(body=make_garbage(int(seed)), content_type=CONTENT_TYPES[kind])

    def _chain(self, r: SimRequest) -> SimResponse:
        n = _num(r)
        if n <= 0:
            return SimResponse(body=b"<p>end of chain</p>")
        return _redirect(f"/redirect/chain/{n - 1}")

    def _slow(self, r: SimRequest) -> SimResponse:
        return SimResponse(body=b"<p>finally</p>", delay=float(r.arg("delay", "2")))

    def _drip(self, r: SimRequest) -> SimResponse:
        chunks = int(r.arg("chunks", "10"))
        return SimResponse(
            body=(b"." * 16 for _ in range(chunks)),
            chunk_delay=float(r.arg("delay", "0.5")),
            content_type="text/plain",
        )

    def _huge(self, r: SimRequest) -> SimResponse:
        total = int(r.arg("bytes", str(256 * MiB)))
        headers = [("Content-Length", str(total))] if r.path.endswith("declared") else []
        return SimResponse(
            body=_zeros(total), content_type="application/octet-stream", headers=headers
        )

    def _bomb(self, r: SimRequest) -> SimResponse:
        encoding = "gzip" if r.path.endswith("gz") else "deflate"
        return SimResponse(
            body=_bomb(encoding, self.bomb_bytes),
            content_type="text/plain",
            headers=[("Content-Encoding", encoding)],
        )

    def _gzip(self, r: SimRequest) -> SimResponse:
        compressor = zlib.compressobj(wbits=31)
        body = compressor.compress(self.site_page(r.host).encode()) + compressor.flush()
        return SimResponse(body=body, headers=[("Content-Encoding", "gzip")])

    def _status(self, r: SimRequest) -> SimResponse:
        code = _num(r)
        headers = [("Retry-After", "120")] if code == 503 else []
        return SimResponse(code, f"<p>status {code}</p>".encode(), headers=headers)

    def _echo(self, r: SimRequest) -> SimResponse:
        data = {"method": r.method, "host": r.host, "path": r.path, "headers": r.headers}
        return SimResponse(body=json.dumps(data).encode(), content_type="application/json")

    # ---------------------------------------------------------------- TLS

    def _make_tls_context(self) -> ssl.SSLContext:
        self._tmpdir = tempfile.mkdtemp(prefix="simweb-tls-")
        ca_pem, cert_pem, key_pem = _make_certificates(self.hosts, self.address)
        directory = Path(self._tmpdir)
        (directory / "ca.pem").write_bytes(ca_pem)
        (directory / "cert.pem").write_bytes(cert_pem)
        (directory / "key.pem").write_bytes(key_pem)
        self.ca_file = str(directory / "ca.pem")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "cert.pem", directory / "key.pem")

        def record_sni(sock: Any, name: str | None, ctx: ssl.SSLContext) -> None:
            with self._lock:
                self.sni_names.append(name)

        context.sni_callback = record_sni
        return context


# ------------------------------------------------------------------ helpers


def _redirect(
    location: str, status: int = 302, extra: Iterable[tuple[str, str]] = ()
) -> SimResponse:
    body = f'<a href="{location}">moved</a>'.encode()
    return SimResponse(status, body, headers=[("Location", location), *extra])


def _num(r: SimRequest) -> int:
    found = re.findall(r"\d+", r.path)
    return int(found[-1]) if found else 0


def _groups(r: SimRequest, pattern: str) -> tuple[str, ...]:
    match = re.fullmatch(pattern, r.path)
    assert match is not None
    return match.groups()


@functools.lru_cache(maxsize=256)
def _image(kind: str, seed: int, size: tuple[int, int]) -> bytes:
    return make_image(kind, seed, size)


@functools.lru_cache(maxsize=256)
def _marked(marking: str, seed: int) -> tuple[bytes, str]:
    from hotline.sim.provenance import marked_image

    return marked_image(marking, seed, size=(96, 72))


@functools.lru_cache(maxsize=64)
def _video(seed: int, container: str) -> bytes:
    return make_video_stub(seed, container)


def _zeros(total: int, block: int = 256 * 1024) -> Iterator[bytes]:
    chunk = b"\0" * block
    while total > 0:
        yield chunk[: min(block, total)]
        total -= block


@functools.lru_cache(maxsize=4)
def _bomb(encoding: str, size: int) -> bytes:
    compressor = zlib.compressobj(9, wbits=31 if encoding == "gzip" else 15)
    parts = [compressor.compress(block) for block in _zeros(size, MiB)]
    return b"".join(parts) + compressor.flush()


def _make_certificates(hosts: Iterable[str], address: str) -> tuple[bytes, bytes, bytes]:
    """A throwaway CA and a leaf cert for ``hosts``, ``*.sim.test`` and ``address``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hotline SimWeb test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    names += [x509.DNSName("*.sim.test"), x509.IPAddress(ipaddress.ip_address(address))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SimWeb")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca_cert.public_bytes(pem), cert.public_bytes(pem), key_pem
