"""The project's only outbound HTTP client: an SSRF-hardened, capped fetcher.

Every hop (the first request and each redirect) goes through the same steps:

1. parse the URL ourselves (http/https only, userinfo dropped, legacy numeric
   IPv4 forms such as ``http://2130706433/`` decoded the way browsers do);
2. resolve the host once (IP literal, else ``policy.host_map``, else the
   injected :class:`Resolver`, default ``socket.getaddrinfo``);
3. refuse the hop if ANY resolved address is blocked (see
   :mod:`hotline.lib.netguard`) or the port is not allowed;
4. connect to exactly the checked addresses: a network backend
   (:class:`_PinnedBackend`: httpcore's for the outbound client, called by the
   fetcher's hop itself) ignores the host name it is handed and
   ``connect()``s a raw socket to the checked IP -- no second lookup ever
   happens (it does not even call ``getaddrinfo`` for the literal).  The URL
   keeps the real host name, so the ``Host`` header, TLS SNI and certificate
   verification all use the name while TCP goes to the pinned IP.

Bodies are streamed and capped (raw and decompressed), the whole fetch shares
one deadline that also bounds every socket operation, no cookies or
credentials are ever sent, and proxies from the environment are never used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import re
import select
import socket
import ssl
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, Protocol
from urllib.parse import urljoin, urlsplit

import h11
import httpcore
import httpx

from hotline.lib.netguard import (
    IPAddress,
    blocked_reason,
    connect_address,
    is_loopback,
    parse_ip,
    parse_legacy_ipv4,
)

__all__ = [
    "DEFAULT_USER_AGENT",
    "ClientCertificate",
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "OutboundClient",
    "RedirectHop",
    "Resolver",
    "SystemResolver",
    "answer_summary",
    "fetch",
    "outbound_policy",
    "policy_from_settings",
    "printable_excerpt",
    "request",
]

DEFAULT_USER_AGENT = "HotlineCapture/0.1 (+automated URL check by an internet hotline)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MB = 1024 * 1024


class FetchError(Exception):
    """A refused or failed fetch. ``code`` is stable, ``message`` is for humans.

    Codes: bad_url, bad_scheme, bad_port, blocked_address, dns_failure,
    connect_failed, timeout, tls_error, network_error, protocol_error,
    too_many_redirects, too_large, decompression_bomb, unsupported_encoding.
    """

    def __init__(
        self, code: str, message: str, *, retryable: bool = False, url: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.url = url


@dataclass(frozen=True)
class ClientCertificate:
    """A TLS client certificate (mutual TLS): PEM certificate and key files, the key's passphrase."""

    cert_file: str
    key_file: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FetchPolicy:
    max_redirects: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_body_bytes: int = 50 * _MB
    max_decompressed_bytes: int = 200 * _MB
    user_agent: str = DEFAULT_USER_AGENT
    allow_loopback: bool = False
    #: Simulation only: host name -> IP string. Mapped IPs are still checked.
    host_map: Mapping[str, str] = field(default_factory=dict)
    #: Ports allowed for non-loopback targets. With ``allow_loopback`` a host
    #: resolving only to loopback may use any port (the simulated web).
    allowed_ports: frozenset[int] = frozenset({80, 443})
    #: PEM CA bundle to trust instead of certifi's (e.g. the simulated web's CA).
    ca_bundle: str | None = None
    verify_tls: bool = True
    #: Simulation only: connect to another port on loopback (``{80: 8123}``), so simulated URLs
    #: keep their real-looking default ports. Ignored for any non-loopback address.
    port_map: Mapping[int, int] = field(default_factory=dict)
    #: Outbound channels that authenticate with mutual TLS (ICCAM). Never set for capture.
    client_certificate: ClientCertificate | None = None

    def __post_init__(self) -> None:
        mapped: dict[str, str] = {}
        for name, ip in self.host_map.items():
            mapped[name.lower().rstrip(".")] = str(parse_ip(ip))  # ValueError if not an IP
        object.__setattr__(self, "host_map", MappingProxyType(mapped))
        object.__setattr__(self, "allowed_ports", frozenset(self.allowed_ports))
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_redirects < 0 or self.max_body_bytes < 1 or self.max_decompressed_bytes < 1:
            raise ValueError("caps must be positive")


class RedirectHop(NamedTuple):
    url: str
    status_code: int
    peer_ip: str


@dataclass(frozen=True)
class FetchResult:
    final_url: str
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes
    peer_ip: str
    redirects: list[RedirectHop]
    elapsed: float

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> Sequence[str | IPAddress]: ...


class SystemResolver:
    """``socket.getaddrinfo``; raises FetchError("dns_failure") on failure."""

    def resolve(self, host: str, port: int) -> Sequence[str | IPAddress]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            retryable = exc.errno == socket.EAI_AGAIN
            raise FetchError("dns_failure", f"{host}: {exc}", retryable=retryable) from exc
        return [str(info[4][0]) for info in infos]


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class _Target:
    url: str  # normalised, without userinfo or fragment
    scheme: str
    host: str  # ASCII host name, or canonical IP string (no brackets)
    ip: IPAddress | None
    port: int
    target: bytes  # request-target (path + query)
    host_header: str


@functools.lru_cache(maxsize=4096)
def _parse_target(raw_url: str) -> _Target:
    """The checked, normalised target of ``raw_url``, or ``FetchError``. A pure function of the string, so
    its answers are kept (a liveness check asks the same URLs again and again); refusals are not kept."""
    url = raw_url.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url.replace(" ", "")):
        raise FetchError("bad_url", "URL contains control characters", url=raw_url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError("bad_url", f"cannot parse URL: {exc}", url=raw_url) from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise FetchError("bad_scheme", f"scheme {scheme or '(none)'!r} is not http/https")
    if "\\" in parts.netloc or " " in parts.netloc:
        raise FetchError("bad_url", "malformed authority", url=raw_url)
    hostport = parts.netloc.rpartition("@")[2]  # userinfo is dropped, never sent
    ip: IPAddress | None
    if hostport.startswith("["):
        inner, _, after = hostport[1:].partition("]")
        if after and not after.startswith(":"):
            raise FetchError("bad_url", "malformed IPv6 authority", url=raw_url)
        port_str = after[1:]
        try:
            ip = parse_ip(inner.replace("%25", "%"))
        except ValueError as exc:
            raise FetchError("bad_url", f"invalid IPv6 literal {inner!r}", url=raw_url) from exc
        host = str(ip)
    else:
        name, _, port_str = hostport.partition(":")
        name = name.lower()
        if name.endswith("."):
            name = name[:-1]
        if not name or "%" in name or ":" in port_str:
            raise FetchError("bad_url", f"invalid host {name!r}", url=raw_url)
        try:
            ip = parse_legacy_ipv4(name)
        except ValueError as exc:
            raise FetchError("bad_url", str(exc), url=raw_url) from exc
        if ip is not None:
            host = str(ip)
        else:
            try:
                host = httpx.URL(f"http://{name}/").raw_host.decode("ascii")
            except (httpx.InvalidURL, UnicodeError) as exc:
                raise FetchError("bad_url", f"invalid host {name!r}: {exc}", url=raw_url) from exc
    if port_str:
        if not port_str.isdigit() or not 0 < int(port_str) < 65536:
            raise FetchError("bad_url", f"invalid port {port_str!r}", url=raw_url)
        port = int(port_str)
    else:
        port = _DEFAULT_PORTS[scheme]
    authority = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS[scheme]:
        authority = f"{authority}:{port}"
    rest = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        normal = httpx.URL(f"{scheme}://{authority}{rest}")
    except httpx.InvalidURL as exc:
        raise FetchError("bad_url", str(exc), url=raw_url) from exc
    return _Target(str(normal), scheme, host, ip, port, normal.raw_path, authority)


# ----------------------------------------------------------------- address checks


def _mapped(host_map: Mapping[str, str], host: str) -> str | None:
    """Simulation host map: an exact name, else the nearest ``*.suffix`` wildcard entry."""
    if host in host_map:
        return host_map[host]
    labels = host.split(".")
    for i in range(1, len(labels)):
        wildcard = "*." + ".".join(labels[i:])
        if wildcard in host_map:
            return host_map[wildcard]
    return None


def _resolve_and_check(target: _Target, policy: FetchPolicy, resolver: Resolver) -> list[IPAddress]:
    if target.ip is not None:
        answers: Sequence[str | IPAddress] = [target.ip]
    elif (mapped := _mapped(policy.host_map, target.host)) is not None:
        answers = [mapped]
    else:
        try:
            answers = resolver.resolve(target.host, target.port)
        except FetchError:
            raise
        except (OSError, ValueError) as exc:
            raise FetchError("dns_failure", f"{target.host}: {exc}", retryable=True) from exc
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            addr = parse_ip(answer)
        except ValueError as exc:
            raise FetchError("dns_failure", f"bad address {answer!r} for {target.host}") from exc
        if addr not in addresses:
            addresses.append(addr)
    if not addresses:
        raise FetchError("dns_failure", f"{target.host} has no addresses", retryable=True)
    of_host = "" if target.ip is not None else f" of {target.host}"
    for addr in addresses:  # every answer must pass, not just the one we would use
        reason = blocked_reason(addr, allow_loopback=policy.allow_loopback)
        if reason is not None:
            raise FetchError("blocked_address", f"address {addr}{of_host} is {reason}")
    loopback_only = policy.allow_loopback and all(is_loopback(a) for a in addresses)
    if target.port not in policy.allowed_ports and not loopback_only:
        raise FetchError("bad_port", f"port {target.port} is not allowed")
    return [connect_address(a) for a in addresses]


# ----------------------------------------------------- pinned network backend


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() >= self.at:
            raise FetchError(
                "timeout", f"total time limit of {self.seconds:g}s exceeded", retryable=True
            )

    def clamp(self, timeout: float | None) -> float:
        self.check()
        remaining = self.at - time.monotonic()
        return remaining if timeout is None else min(timeout, remaining)


class _NoDeadline(_Deadline):
    """For pooled connections, which outlive any one request: only the per-operation timeouts apply
    to the socket; each request checks its own total deadline while it reads the answer."""

    def __init__(self) -> None:
        super().__init__(math.inf)

    def check(self) -> None:
        return None

    def clamp(self, timeout: float | None) -> float:
        return math.inf if timeout is None else timeout


class _PinnedStream(httpcore.NetworkStream):
    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._sock.settimeout(self._deadline.clamp(timeout))
        try:
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            self._deadline.check()
            raise httpcore.ReadTimeout(f"read timed out after {timeout}s") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        while buffer:
            self._sock.settimeout(self._deadline.clamp(timeout))
            try:
                sent = self._sock.send(buffer)
            except TimeoutError as exc:
                self._deadline.check()
                raise httpcore.WriteTimeout("write timed out") from exc
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc
            buffer = buffer[sent:]

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._sock.settimeout(self._deadline.clamp(timeout))
        try:
            tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            self._deadline.check()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except ssl.SSLError as exc:
            self.close()
            raise FetchError("tls_error", f"TLS with {server_hostname}: {exc}") from exc
        except OSError as exc:
            self.close()
            raise httpcore.ConnectError(f"TLS handshake failed: {exc}") from exc
        return _PinnedStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return bool(select.select([self._sock], [], [], 0)[0])
        return None


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to pre-checked addresses; the host name is never resolved."""

    def __init__(
        self, host: str, addresses: Sequence[IPAddress], deadline: _Deadline, port_map: Mapping[int, int]
    ) -> None:
        self._host = host
        self._addresses = list(addresses)
        self._deadline = deadline
        self._port_map = port_map if all(is_loopback(a) for a in self._addresses) else {}
        self.peer_ip: str | None = None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        if host != self._host:  # defensive: httpcore must only ask for our origin
            raise httpcore.ConnectError(f"unexpected connect to {host!r}")
        failures: list[str] = []
        timed_out = False
        for addr in self._addresses:
            family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                sock.settimeout(self._deadline.clamp(timeout))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect((str(addr), self._port_map.get(port, port)))  # a literal: no getaddrinfo involved
            except TimeoutError:
                sock.close()
                timed_out = True
                failures.append(f"{addr}: timed out")
                continue
            except OSError as exc:
                sock.close()
                failures.append(f"{addr}: {exc.strerror or exc}")
                continue
            except BaseException:
                sock.close()
                raise
            peer = parse_ip(str(sock.getpeername()[0]))
            if connect_address(peer) != addr:  # paranoia: never talk to anything else
                sock.close()
                raise httpcore.ConnectError(f"connected to {peer}, expected {addr}")
            self.peer_ip = str(addr)
            return _PinnedStream(sock, self._deadline)
        message = f"cannot connect to {host} port {port} ({'; '.join(failures)})"
        raise (httpcore.ConnectTimeout if timed_out else httpcore.ConnectError)(message)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# ----------------------------------------------------------------- decoding


class _Decoder:
    """Incremental gzip/deflate/identity decoder that aborts past ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._encoding = encoding
        self._limit = limit
        self._total = 0
        self._started = False
        self._obj = self._new(raw=False) if encoding != "identity" else None

    def _new(self, *, raw: bool) -> Any:
        if self._encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def _count(self, data: bytes) -> bytes:
        self._total += len(data)
        if self._total > self._limit:
            raise FetchError(
                "decompression_bomb",
                f"{self._encoding} body decompresses to more than {self._limit} bytes",
            )
        return data

    def feed(self, data: bytes) -> bytes:
        if self._obj is None:
            return data
        out: list[bytes] = []
        pending = data
        while pending:
            if self._obj.eof:
                if self._encoding != "gzip":
                    break  # trailing bytes after a deflate stream are ignored
                self._obj = self._new(raw=False)  # next gzip member
            try:
                chunk = self._obj.decompress(pending, self._limit - self._total + 1)
            except zlib.error as exc:
                if self._encoding == "deflate" and not self._started:
                    self._obj, self._started = self._new(raw=True), True  # raw deflate
                    continue
                raise FetchError("protocol_error", f"invalid {self._encoding} body: {exc}") from exc
            self._started = True
            out.append(self._count(chunk))
            pending = self._obj.unused_data if self._obj.eof else self._obj.unconsumed_tail
        return b"".join(out)

    def flush(self) -> bytes:
        if self._obj is None or self._obj.eof:
            return b""
        return self._count(self._obj.flush())


def _decoders(headers: list[tuple[str, str]], limit: int) -> list[_Decoder]:
    codings: list[str] = []
    for name, value in headers:
        if name.lower() == "content-encoding":
            codings += [c.strip().lower() for c in value.split(",") if c.strip()]
    codings = ["gzip" if c == "x-gzip" else c for c in codings if c != "identity"]
    unsupported = [c for c in codings if c not in ("gzip", "deflate")]
    if unsupported:  # we only advertise gzip/deflate, so e.g. br bombs are refused
        raise FetchError("unsupported_encoding", f"content-encoding {unsupported[0]!r}")
    if len(codings) > 3:
        raise FetchError("protocol_error", "too many content-encodings")
    return [_Decoder(c, limit) for c in reversed(codings)] or [_Decoder("identity", limit)]


# ---------------------------------------------------------------------- fetch


class _Hop(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    peer_ip: str
    location: str | None


_SSL_CONTEXT_LOCK = threading.Lock()


def _ssl_context(ca_bundle: str | None, verify: bool, client: ClientCertificate | None = None) -> ssl.SSLContext:
    """The shared context for these settings, built once. Without the lock, the checking threads' first fetches
    all missed the cache together and each loaded the CA bundle (~40 ms each) for a context thrown away."""
    with _SSL_CONTEXT_LOCK:
        return _built_ssl_context(ca_bundle, verify, client)


@functools.lru_cache(maxsize=8)
def _built_ssl_context(ca_bundle: str | None, verify: bool, client: ClientCertificate | None = None) -> ssl.SSLContext:
    # Loading a CA bundle costs ~20 ms, so contexts are shared (read-only use).
    ctx = ssl.create_default_context(cafile=ca_bundle) if ca_bundle is not None else httpcore.default_ssl_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if client is not None:
        ctx.load_cert_chain(client.cert_file, client.key_file, password=client.password)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _request_headers(host_header: str, user_agent: str) -> list[tuple[bytes, bytes]]:
    # Fixed set: never Cookie, Authorization or anything derived from userinfo.
    return [
        (b"Host", host_header.encode("ascii")),
        (b"User-Agent", user_agent.encode("ascii", "replace")),
        (b"Accept", b"*/*"),
        (b"Accept-Encoding", b"gzip, deflate"),
        (b"Connection", b"close"),
    ]


def _one_hop(
    target: _Target,
    addresses: list[IPAddress],
    policy: FetchPolicy,
    deadline: _Deadline,
    method: str,
    ssl_context: ssl.SSLContext,
) -> _Hop:
    """One request on a new connection to the checked addresses, as httpcore's ``HTTPConnection`` sends it
    (the same connect, TLS, request bytes, reads, timeouts and errors), without its connection and pool
    layers; the answer parsed by :class:`_Answer`."""
    backend = _PinnedBackend(target.host, addresses, deadline, policy.port_map)
    stream = backend.connect_tcp(target.host, target.port, timeout=policy.connect_timeout)
    try:
        if target.scheme == "https":
            ssl_context.set_alpn_protocols(["http/1.1"])  # what httpcore sets on the context, for HTTP/1.1 only
            stream = stream.start_tls(ssl_context, server_hostname=target.host, timeout=policy.connect_timeout)
        request = _request_bytes(method, target.target, target.host_header, policy.user_agent)
        with contextlib.suppress(httpcore.WriteError):  # as httpcore: a server may close early and still answer
            stream.write(request, timeout=policy.read_timeout)
        answer = _Answer(stream, policy.read_timeout, method, target, policy.user_agent)
        status, headers = answer.head()
        peer = backend.peer_ip or ""
        location = next((v for k, v in headers if k.lower() == "location"), None)
        if status in REDIRECT_STATUSES and location is not None:
            return _Hop(status, headers, b"", peer, location.strip())
        return _Hop(status, headers, _read_body(answer, headers, policy, deadline), peer, None)
    finally:
        stream.close()


def _h11_request(method: str, target: bytes, host_header: str, user_agent: str) -> h11.Request:
    """The request as h11 validates it (``LocalProtocolError`` for a target or header it refuses)."""
    return h11.Request(method=method, target=target, headers=_request_headers(host_header, user_agent))


@functools.lru_cache(maxsize=4096)
def _request_bytes(method: str, target: bytes, host_header: str, user_agent: str) -> bytes:
    """The request's bytes, written by h11 as httpcore writes them. A pure function of its arguments, so kept
    (a liveness check asks the same URLs again and again); a refusal raises (as httpcore's
    ``LocalProtocolError``) and is not kept."""
    connection = h11.Connection(our_role=h11.CLIENT)
    try:
        return connection.send(_h11_request(method, target, host_header, user_agent)) + (
            connection.send(h11.EndOfMessage()) or b"")
    except h11.LocalProtocolError as exc:
        raise httpcore.LocalProtocolError(exc) from exc


# h11's own regular expressions for a status line and a header line (the usual answer is parsed to exactly what h11
# accepts). They are h11's internals: with an h11 that no longer has them, every answer goes through h11 itself.
_STATUS_LINE: re.Pattern[bytes] | None
_HEADER_FIELD: re.Pattern[bytes] | None
try:
    from h11._readers import header_field_re as _HEADER_FIELD
    from h11._readers import status_line_re as _STATUS_LINE
except ImportError:  # pragma: no cover (another h11 than constraints.txt's)
    _HEADER_FIELD = _STATUS_LINE = None

#: What httpcore reads at a time and lets h11 hold before a response's head is complete.
_READ_BYTES = 64 * 1024
_MAX_HEAD_BYTES = 100 * 1024
_DIGITS = re.compile(rb"[0-9]+")
_BLANK_LINE = re.compile(b"\n\r?\n", re.MULTILINE)  # h11's end of a head


class _Answer:
    """A response read from the stream. The usual answer (``HTTP/1.1`` or ``1.0``, a final status other than
    204 or 304 to a GET, ``CRLF`` line ends, one plain ``Content-Length``, no ``Transfer-Encoding``, no folded
    lines) is parsed here with h11's own regular expressions, to the same status, headers, body and errors as
    h11's; anything else (chunked or close-delimited bodies, informational answers, anything malformed) is
    handed to h11 with the bytes read so far replayed as they were read, so h11 decides it exactly as httpcore
    would have."""

    def __init__(self, stream: httpcore.NetworkStream, timeout: float, method: str, target: _Target,
                 user_agent: str) -> None:
        self._stream, self._timeout = stream, timeout
        self._method, self._target, self._user_agent = method, target, user_agent
        self._chunks: list[bytes] = []  # read, not yet given to h11 (only while the head is being read)
        self._h11: h11.Connection | None = None
        self._rest = b""
        self._length = 0

    def head(self) -> tuple[int, list[tuple[str, str]]]:
        buffer = b""
        while True:
            data = self._stream.read(_READ_BYTES, timeout=self._timeout)
            self._chunks.append(data)
            buffer += data
            end = _BLANK_LINE.search(buffer)
            if end is not None:
                parsed = self._parse(buffer[: end.end()])
                if parsed is not None:
                    self._rest, self._chunks = buffer[end.end():], []
                    return parsed
                return self._h11_head()
            if not data or len(buffer) > _MAX_HEAD_BYTES or not b"HTTP/".startswith(buffer[:5]):
                return self._h11_head()

    def _parse(self, head: bytes) -> tuple[int, list[tuple[str, str]]] | None:
        lines = head[:-4].split(b"\r\n") if head.endswith(b"\r\n\r\n") else []
        if (not lines or any(b"\r" in line or b"\n" in line for line in lines) or _STATUS_LINE is None
                or _HEADER_FIELD is None):
            return None
        status_line = _STATUS_LINE.fullmatch(lines[0])
        if status_line is None or status_line["http_version"] not in (b"1.1", b"1.0"):
            return None
        status = int(status_line["status_code"])
        if status < 200 or status in (204, 304) or self._method != "GET":
            return None
        headers: list[tuple[str, str]] = []
        length: bytes | None = None
        for line in lines[1:]:
            field = _HEADER_FIELD.fullmatch(line)
            if field is None or line[:1] in (b" ", b"\t"):
                return None
            name, value = field["field_name"], field["field_value"]
            lowered = name.lower()
            if lowered == b"transfer-encoding":
                return None
            if lowered == b"content-length":
                if length is not None or _DIGITS.fullmatch(value) is None or len(value) > 20:
                    return None
                length = value
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
        if length is None:
            return None
        self._length = int(length)
        return status, headers

    def iter_stream(self) -> Iterator[bytes]:
        if self._h11 is not None:
            yield from self._h11_body()
            return
        remaining, data = self._length, self._rest
        while remaining:
            if not data:
                data = self._stream.read(_READ_BYTES, timeout=self._timeout)
                if not data:
                    raise httpcore.RemoteProtocolError(
                        "peer closed connection without sending complete message body "
                        f"(received {self._length - remaining} bytes, expected {self._length})")
            piece, data = data[:remaining], b""
            remaining -= len(piece)
            yield piece

    # httpcore's reading, through h11, of an answer the usual path does not take

    def _h11_head(self) -> tuple[int, list[tuple[str, str]]]:
        connection = self._h11 = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        connection.send(_h11_request(self._method, self._target.target, self._target.host_header, self._user_agent))
        connection.send(h11.EndOfMessage())
        while True:
            event = self._h11_event()
            if isinstance(event, h11.Response) or (
                    isinstance(event, h11.InformationalResponse) and event.status_code == 101):
                break
        return event.status_code, [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()]

    def _h11_body(self) -> Iterator[bytes]:
        while True:
            event = self._h11_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                return

    def _h11_event(self) -> Any:
        connection = self._h11
        assert connection is not None
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpcore.RemoteProtocolError(exc) from exc
            if event is not h11.NEED_DATA:
                return event
            data = self._chunks.pop(0) if self._chunks else self._stream.read(_READ_BYTES, timeout=self._timeout)
            if data == b"" and connection.their_state == h11.SEND_RESPONSE:
                raise httpcore.RemoteProtocolError("Server disconnected without sending a response.")
            connection.receive_data(data)


class _Body(Protocol):
    def iter_stream(self) -> Iterator[bytes]: ...


def _read_body(
    response: _Body, headers: list[tuple[str, str]], policy: FetchPolicy, deadline: _Deadline
) -> bytes:
    """The decoded body, refused past the raw and decompressed caps or the total deadline."""
    declared = next((v for k, v in headers if k.lower() == "content-length"), None)
    if declared is not None and declared.strip().isdigit() and int(declared) > policy.max_body_bytes:
        raise FetchError("too_large", f"declared length {declared} exceeds {policy.max_body_bytes}")
    decoders = _decoders(headers, policy.max_decompressed_bytes)
    raw_total = 0
    parts: list[bytes] = []
    for chunk in response.iter_stream():
        raw_total += len(chunk)
        if raw_total > policy.max_body_bytes:
            raise FetchError("too_large", f"body exceeds {policy.max_body_bytes} bytes")
        for decoder in decoders:
            chunk = decoder.feed(chunk)
        parts.append(chunk)
        deadline.check()
    tail = b""
    for decoder in decoders:
        tail = decoder.feed(tail) + decoder.flush()
    parts.append(tail)
    return b"".join(parts)


def _map_transport_error(exc: Exception, target: _Target) -> FetchError:
    where = f"{target.host}:{target.port}"
    if isinstance(exc, httpcore.ConnectTimeout):
        return FetchError("timeout", f"connect to {where} timed out", retryable=True)
    if isinstance(exc, httpcore.TimeoutException):
        return FetchError("timeout", f"{where}: {exc}", retryable=True)
    if isinstance(exc, httpcore.ConnectError):
        return FetchError("connect_failed", str(exc), retryable=True)
    if isinstance(exc, httpcore.ProtocolError):
        return FetchError("protocol_error", f"{where}: {exc}")
    return FetchError("network_error", f"{where}: {exc}", retryable=True)


def fetch(
    url: str,
    *,
    policy: FetchPolicy,
    resolver: Resolver | None = None,
    method: Literal["GET", "HEAD"] = "GET",
) -> FetchResult:
    """Fetch ``url`` under ``policy``; raise :class:`FetchError` on refusal/failure."""
    if method not in ("GET", "HEAD"):
        raise ValueError(f"unsupported method {method!r}")
    started = time.monotonic()
    deadline = _Deadline(policy.total_timeout)
    resolver = resolver or SystemResolver()
    redirects: list[RedirectHop] = []
    current = url
    while True:
        target = _parse_target(current)
        try:
            addresses = _resolve_and_check(target, policy, resolver)
            deadline.check()
            ssl_context = _ssl_context(policy.ca_bundle, policy.verify_tls)
            hop = _one_hop(target, addresses, policy, deadline, method, ssl_context)
        except FetchError as exc:
            exc.url = exc.url or target.url
            raise
        except (httpcore.NetworkError, httpcore.TimeoutException, httpcore.ProtocolError) as exc:
            error = _map_transport_error(exc, target)
            error.url = target.url
            raise error from exc
        if hop.location is None:
            return FetchResult(
                final_url=target.url,
                status_code=hop.status,
                headers=hop.headers,
                body=hop.body,
                peer_ip=hop.peer_ip,
                redirects=redirects,
                elapsed=time.monotonic() - started,
            )
        redirects.append(RedirectHop(target.url, hop.status, hop.peer_ip))
        if len(redirects) > policy.max_redirects:
            raise FetchError(
                "too_many_redirects",
                f"more than {policy.max_redirects} redirects",
                url=target.url,
            )
        current = urljoin(target.url, hop.location)


def policy_from_settings() -> FetchPolicy:
    """Build the policy from Django settings (``HOTLINE_FETCH_*``, ``HOTLINE_SIM_HOSTS``)."""
    from django.conf import settings

    defaults = FetchPolicy()

    def get(name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    return FetchPolicy(
        max_redirects=int(get("HOTLINE_FETCH_MAX_REDIRECTS", defaults.max_redirects)),
        connect_timeout=float(get("HOTLINE_FETCH_CONNECT_TIMEOUT", defaults.connect_timeout)),
        read_timeout=float(get("HOTLINE_FETCH_READ_TIMEOUT", defaults.read_timeout)),
        total_timeout=float(get("HOTLINE_FETCH_TOTAL_TIMEOUT", defaults.total_timeout)),
        max_body_bytes=int(get("HOTLINE_FETCH_MAX_BODY_BYTES", defaults.max_body_bytes)),
        max_decompressed_bytes=int(
            get("HOTLINE_FETCH_MAX_DECOMPRESSED_BYTES", defaults.max_decompressed_bytes)
        ),
        user_agent=str(get("HOTLINE_FETCH_USER_AGENT", defaults.user_agent)),
        allow_loopback=bool(get("HOTLINE_FETCH_ALLOW_LOOPBACK", False)),
        host_map=dict(get("HOTLINE_SIM_HOSTS", None) or {}),
        allowed_ports=frozenset(
            int(p) for p in get("HOTLINE_FETCH_ALLOWED_PORTS", defaults.allowed_ports)
        ),
        ca_bundle=get("HOTLINE_FETCH_CA_BUNDLE", None),
        port_map={int(k): int(v) for k, v in (get("HOTLINE_SIM_PORTS", None) or {}).items()},
        verify_tls=bool(get("HOTLINE_FETCH_VERIFY_TLS", True)),
    )


# ------------------------------------------------------------------ outbound channels

#: Refusals no retry can cure: the configured URL or the address it resolves to is wrong. Every other
#: failure of an outbound request (DNS, connect, timeout, TLS, a broken or oversized answer) may pass.
FINAL_CODES = frozenset({"bad_url", "bad_scheme", "bad_port", "blocked_address"})
#: Ports an outbound channel endpoint may use (any port on loopback in simulation).
OUTBOUND_PORTS = frozenset({80, 443, 8080, 8443})
_FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_PoolKey = tuple[str, str, int, tuple[IPAddress, ...]]


def outbound_policy(*, timeout: float, max_body_bytes: int = _MB) -> FetchPolicy:
    """The policy for staff-configured endpoints (police referrals, provider APIs, partner hotlines).

    Capture's address rules and simulation settings (loopback allow-list, host/port maps, CA bundle),
    but no redirects, ``timeout`` per operation, a small answer cap, and the ports in
    ``HOTLINE_OUTBOUND_ALLOWED_PORTS``.
    """
    from django.conf import settings

    base = policy_from_settings()
    ports = getattr(settings, "HOTLINE_OUTBOUND_ALLOWED_PORTS", OUTBOUND_PORTS)
    return dataclasses.replace(
        base, max_redirects=0, connect_timeout=timeout, read_timeout=timeout, total_timeout=3 * timeout,
        max_body_bytes=max_body_bytes, max_decompressed_bytes=4 * max_body_bytes,
        allowed_ports=frozenset(int(p) for p in ports))


def _encode_body(
    content: bytes | None, files: Mapping[str, Any] | None
) -> tuple[bytes | None, str | None]:
    if files is None:
        return content, None
    if content is not None:
        raise ValueError("pass content or files, not both")
    encoded = httpx.Request("POST", "http://multipart.invalid/", files=files)  # builds, never sends
    return encoded.read(), encoded.headers["Content-Type"]


class OutboundClient:
    """The one client for every outbound channel request (police HTTP, provider APIs, the exchange).

    Each request parses the URL, resolves the host once, refuses it if any address is private,
    reserved or loopback (unless the policy allows loopback: tests and the simulation), and is sent
    over a connection to exactly the checked addresses; ``Host`` and TLS SNI keep the name.
    Redirects are never followed (a 3xx is returned as the answer), answers are capped.

    Connections are kept alive per (scheme, host, port, checked addresses): a pooled connection was
    opened to an address that passed the check, and a name that now resolves elsewhere gets a new
    pool, so reuse never skips the check. Thread-safe; close it (or use ``with``) when done.
    """

    def __init__(
        self, policy: FetchPolicy, *, resolver: Resolver | None = None, max_connections: int = 16,
        max_origins: int = 32,
    ) -> None:
        self.policy = policy
        self._resolver = resolver or SystemResolver()
        self._max_connections = max_connections
        self._max_origins = max_origins
        self._pools: OrderedDict[_PoolKey, httpcore.ConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()

    def request(
        self, method: str, url: str, *, content: bytes | None = None,
        files: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """Send one request; raise :class:`FetchError` (``retryable`` set) on refusal or failure.

        Any answer, whatever its status, is returned: the caller decides what a 4xx/5xx means.
        """
        started = time.monotonic()
        deadline = _Deadline(self.policy.total_timeout)
        body, content_type = _encode_body(content, files)
        try:
            target = _parse_target(url)
            try:
                addresses = _resolve_and_check(target, self.policy, self._resolver)
                pool = self._pool(target, addresses)
                status, answer_headers, answer, peer = self._send(
                    pool, target, method, body, self._headers(target, headers, content_type, body), deadline)
            except (httpcore.NetworkError, httpcore.TimeoutException, httpcore.ProtocolError) as exc:
                raise _map_transport_error(exc, target) from exc
        except FetchError as exc:
            exc.retryable = exc.code not in FINAL_CODES
            exc.url = exc.url or url
            raise
        return FetchResult(final_url=target.url, status_code=status, headers=answer_headers, body=answer,
                           peer_ip=peer, redirects=[], elapsed=time.monotonic() - started)

    def _pool(self, target: _Target, addresses: list[IPAddress]) -> httpcore.ConnectionPool:
        key: _PoolKey = (target.scheme, target.host, target.port, tuple(addresses))
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            backend = _PinnedBackend(target.host, addresses, _NoDeadline(), self.policy.port_map)
            pool = httpcore.ConnectionPool(
                ssl_context=_ssl_context(self.policy.ca_bundle, self.policy.verify_tls,
                                         self.policy.client_certificate),
                max_connections=self._max_connections, keepalive_expiry=30.0, http1=True, http2=False,
                retries=0, network_backend=backend)
            self._pools[key] = pool
            evicted = self._pools.popitem(last=False)[1] if len(self._pools) > self._max_origins else None
        if evicted is not None:
            evicted.close()
        return pool

    def _headers(
        self, target: _Target, extra: Mapping[str, str] | None, content_type: str | None, body: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        fields = {"user-agent": ("User-Agent", self.policy.user_agent), "accept": ("Accept", "*/*"),
                  "accept-encoding": ("Accept-Encoding", "gzip, deflate")}
        if content_type is not None:
            fields["content-type"] = ("Content-Type", content_type)
        for name, value in (extra or {}).items():
            if name.lower() in _FORBIDDEN_HEADERS:
                raise ValueError(f"header {name!r} is set by the client")
            fields[name.lower()] = (name, value)
        out = [(b"Host", target.host_header.encode("ascii"))]
        out += [(name.encode("ascii"), value.encode("latin-1")) for name, value in fields.values()]
        if body is not None:
            out.append((b"Content-Length", str(len(body)).encode("ascii")))
        return out

    def _send(
        self, pool: httpcore.ConnectionPool, target: _Target, method: str, body: bytes | None,
        headers: list[tuple[bytes, bytes]], deadline: _Deadline,
    ) -> tuple[int, list[tuple[str, str]], bytes, str]:
        scheme, host = target.scheme.encode(), target.host.encode("ascii")
        policy = self.policy
        timeouts = {"connect": policy.connect_timeout, "read": policy.read_timeout,
                    "write": policy.read_timeout, "pool": policy.connect_timeout}
        with pool.stream(
            method.upper(), httpcore.URL(scheme=scheme, host=host, port=target.port, target=target.target),
            headers=headers, content=body, extensions={"timeout": timeouts},
        ) as response:
            answer_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers]
            stream = response.extensions.get("network_stream")
            server = stream.get_extra_info("server_addr") if stream is not None else None
            peer = str(connect_address(parse_ip(str(server[0])))) if server else ""
            return response.status, answer_headers, _read_body(response, answer_headers, policy, deadline), peer


def request(
    method: str, url: str, *, policy: FetchPolicy, resolver: Resolver | None = None,
    content: bytes | None = None, files: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> FetchResult:
    """One request through a fresh :class:`OutboundClient` (no connection kept)."""
    with OutboundClient(policy, resolver=resolver, max_connections=1) as client:
        return client.request(method, url, content=content, files=files, headers=headers)


def printable_excerpt(text: bytes | str, limit: int = 120) -> str:
    """At most ``limit`` characters of text from outside, safe to store and show: printable ASCII is
    kept, whitespace runs become one space, anything else (control characters, bidi overrides,
    non-ASCII) is written as a Python escape (``\\x1b``, ``\\u202e``). HTML escaping is the template's job."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", "replace")
    out: list[str] = []
    size = 0
    for char in " ".join(text.split()):
        piece = char if " " <= char <= "~" and char != "\\" else char.encode("unicode_escape").decode("ascii")
        if size + len(piece) > limit:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def answer_summary(status: int, body: bytes | str, limit: int = 120) -> str:
    """``HTTP <status>`` and a short printable excerpt of the answer: what a channel stores as its error."""
    excerpt = printable_excerpt(body, limit)
    return f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
