"""A DNS stub server on loopback (UDP and TCP) for tests, the demo and benchmarks.

The zone is a dict of names to records; some names answer SERVFAIL, some never answer (the
client times out), every other name is NXDOMAIN::

    with SimDns({"www.shop.sim.test": {"CNAME": "edge.cdn.sim.test"},
                 "edge.cdn.sim.test": {"A": ["104.16.1.1"], "AAAA": ["2606:4700::1"]}},
                servfail={"broken.sim.test"}, silent={"slow.sim.test"}) as dns_server:
        config = ResolverConfig(nameservers=(dns_server.nameserver,))

Addresses in answers may be any public-looking address: they are only looked up in offline
data by the tracer, never connected to.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from hotline.sim.loopback import serve_in_thread, stop_serving

__all__ = ["SimDns", "Zone"]

#: name -> {"A": [ip, ...], "AAAA": [ip, ...], "CNAME": target}
Zone = Mapping[str, Mapping[str, Any]]
TTL = 60
MAX_CHAIN = 16


def _key(name: str) -> str:
    return name.lower().rstrip(".")


class SimDns:
    """A threaded UDP + TCP DNS server on 127.0.0.1 with an OS-chosen port."""

    def __init__(self, zone: Zone | None = None, *, servfail: Iterable[str] = (), silent: Iterable[str] = (),
                 address: str = "127.0.0.1", fallback: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        """``fallback(name)`` answers names outside the zone (e.g. every demo site); None means NXDOMAIN."""
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError("SimDns only binds to loopback addresses")
        self.address = address
        self._lock = threading.Lock()
        self._zone: dict[str, dict[str, Any]] = {}
        self._servfail = {_key(n) for n in servfail}
        self._silent = {_key(n) for n in silent}
        self._fallback = fallback
        self.queries: list[tuple[str, str]] = []
        for name, records in (zone or {}).items():
            self.set(name, **records)
        self._udp: socketserver.ThreadingUDPServer | None = None
        self._tcp: socketserver.ThreadingTCPServer | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ zone

    def set(self, name: str, **records: Any) -> None:
        """Replace the records of ``name`` (``A=[...]``, ``AAAA=[...]``, ``CNAME="target"``)."""
        with self._lock:
            self._zone[_key(name)] = {k.upper(): v for k, v in records.items()}

    def remove(self, name: str) -> None:
        with self._lock:
            self._zone.pop(_key(name), None)

    def fail(self, name: str) -> None:
        """Answer SERVFAIL for ``name`` from now on (until ``recover``)."""
        with self._lock:
            self._servfail.add(_key(name))

    def recover(self, name: str) -> None:
        with self._lock:
            self._servfail.discard(_key(name))

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SimDns:
        handler = self._handler_classes()
        self._udp, self._tcp = _bind_pair(self.address, handler[0], handler[1])
        for server in (self._udp, self._tcp):
            server.daemon_threads = True
            self._threads.append(serve_in_thread(server))
        return self

    def stop(self) -> None:
        threads: list[threading.Thread | None] = [*self._threads, None, None]  # in the order they started
        for server, thread in zip((self._udp, self._tcp), threads[:2], strict=True):
            stop_serving(server, thread)
        self._udp = self._tcp = None
        self._threads = []

    def __enter__(self) -> SimDns:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._udp is None:
            raise RuntimeError("SimDns is not started")
        return int(self._udp.server_address[1])

    @property
    def nameserver(self) -> tuple[str, int]:
        return self.address, self.port

    @property
    def spec(self) -> str:
        """The ``HOTLINE_DNS_RESOLVERS`` value that points at this server."""
        return f"{self.address}:{self.port}"

    # --------------------------------------------------------------- answers

    def answer(self, wire: bytes) -> bytes | None:
        """The wire answer to one query, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # garbage in: answer FORMERR like a real server
            return self._formerr(wire)
        if not query.question:
            return None
        question = query.question[0]
        qname, qtype = _key(question.name.to_text()), dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((qname, qtype))
            return self._respond(query, qname, qtype)

    def _respond(self, query: dns.message.Message, qname: str, qtype: str) -> bytes | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        name = qname
        for _ in range(MAX_CHAIN):
            if name in self._silent:
                return None
            if name in self._servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
                return response.to_wire()
            records = self._zone.get(name)
            if records is None and self._fallback is not None:
                records = self._fallback(name)
            if records is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                return response.to_wire()
            target = records.get("CNAME")
            if target and qtype != "CNAME":
                response.answer.append(dns.rrset.from_text(f"{name}.", TTL, "IN", "CNAME", f"{_key(target)}."))
                name = _key(target)
                continue
            values = records.get(qtype) or []
            if isinstance(values, str):
                values = [values]
            if values:
                response.answer.append(dns.rrset.from_text_list(f"{name}.", TTL, "IN", qtype, list(values)))
            return response.to_wire()
        response.set_rcode(dns.rcode.SERVFAIL)  # a CNAME loop
        return response.to_wire()

    @staticmethod
    def _formerr(wire: bytes) -> bytes | None:
        if len(wire) < 2:
            return None
        return wire[:2] + struct.pack(">HHHHH", 0x8001, 0, 0, 0, 0)

    def _handler_classes(self) -> tuple[type[socketserver.BaseRequestHandler], type[socketserver.BaseRequestHandler]]:
        sim = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = sim.answer(data)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(5)
                try:
                    header = conn.recv(2)
                    if len(header) < 2:
                        return
                    (length,) = struct.unpack(">H", header)
                    data = b""
                    while len(data) < length:
                        chunk = conn.recv(length - len(data))
                        if not chunk:
                            return
                        data += chunk
                    reply = sim.answer(data)
                    if reply is not None:
                        conn.sendall(struct.pack(">H", len(reply)) + reply)
                except OSError:
                    return

        return Udp, Tcp


def _bind_pair(address: str, udp_handler: type, tcp_handler: type,
               attempts: int = 50) -> tuple[socketserver.ThreadingUDPServer, socketserver.ThreadingTCPServer]:
    """A UDP and a TCP server on the same free port. The UDP port is picked by the system; the same
    TCP port may be taken by another process at that moment, so a clash picks a new pair."""
    for _ in range(attempts):
        udp = socketserver.ThreadingUDPServer((address, 0), udp_handler)
        tcp = socketserver.ThreadingTCPServer((address, udp.server_address[1]), tcp_handler, bind_and_activate=False)
        tcp.allow_reuse_address = True
        try:
            tcp.server_bind()
            tcp.server_activate()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            tcp.server_close()
            udp.server_close()
            continue
        return udp, tcp
    raise OSError(errno.EADDRINUSE, f"no free UDP+TCP port pair on {address} after {attempts} attempts")
