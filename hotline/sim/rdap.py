"""An RDAP server on loopback for tests, the demo and benchmarks: ``GET /ip/<address>``.

A table of ranges says what each network answers: a well-formed ``ip network`` object (abuse
contact directly on the network or nested in the registrant, as RIRs do), or a failure mode::

    with SimRdap([SimNetwork("8.8.8.0/24", country="US", name="GOGL", abuse="abuse@dns.example"),
                  SimNetwork("203.0.113.0/24", mode="garbage")]) as rdap:
        client = RdapClient(bootstrap, policy, base_url=rdap.base_url)

Modes: ``ok``, ``garbage`` (not JSON), ``no_range`` (JSON without start/end address),
``not_found`` (404), ``error`` (HTTP 503), ``slow`` (answers after ``delay`` seconds).
Addresses outside every range get a 404. Contacts use ``.example`` names.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hotline.sim.loopback import serve_in_thread, stop_serving

__all__ = ["SimNetwork", "SimRdap", "network_json"]


@dataclass(frozen=True)
class SimNetwork:
    cidr: str
    country: str = ""
    name: str = "SIM-NET"
    handle: str = ""
    registrant: str = "Simulated Hosting Ltd"
    abuse: str = "abuse@hosting.example"
    #: Put the abuse entity inside the registrant entity (RIPE/ARIN style) instead of on the network.
    nested: bool = True
    origin_asns: tuple[int, ...] = ()
    mode: str = "ok"
    delay: float = 2.0

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr, strict=False)


def _vcard(fn: str, email: str = "") -> list[Any]:
    props: list[Any] = [["version", {}, "text", "4.0"], ["fn", {}, "text", fn], ["kind", {}, "text", "org"]]
    if email:
        props.append(["email", {"type": "work"}, "text", email])
    return ["vcard", props]


def network_json(net: SimNetwork) -> dict[str, Any]:
    """The RFC 9083 ``ip network`` object for ``net``."""
    network = net.network
    abuse = {"objectClassName": "entity", "handle": f"ABUSE-{net.handle or net.name}", "roles": ["abuse"],
             "vcardArray": _vcard("Abuse desk", net.abuse)}
    registrant: dict[str, Any] = {"objectClassName": "entity", "handle": f"ORG-{net.name}", "roles": ["registrant"],
                                  "vcardArray": _vcard(net.registrant)}
    body: dict[str, Any] = {
        "rdapConformance": ["rdap_level_0"], "objectClassName": "ip network",
        "handle": net.handle or f"NET-{network.network_address}", "name": net.name,
        "startAddress": str(network.network_address), "endAddress": str(network.broadcast_address),
        "ipVersion": f"v{network.version}", "type": "ASSIGNED PA",
    }
    if net.country:
        body["country"] = net.country
    if net.origin_asns:
        body["arin_originas0_originautnums"] = list(net.origin_asns)
    if net.abuse and net.nested:
        registrant["entities"] = [abuse]
        body["entities"] = [registrant]
    else:
        body["entities"] = [registrant] + ([abuse] if net.abuse else [])
    return body


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        sim = self.server.sim
        sim.note(self.path)
        address = self.path.partition("?")[0].removeprefix("/ip/")
        net = sim.find(address) if self.path.startswith("/ip/") else None
        if net is None or net.mode == "not_found":
            self._send(404, {"errorCode": 404, "title": "Not Found"})
        elif net.mode == "error":
            self._send(503, {"errorCode": 503, "title": "Service Unavailable"})
        elif net.mode == "garbage":
            self._send(200, None, raw=b'{"objectClassName": "ip network", "startAddress": [1,2,')
        elif net.mode == "no_range":
            self._send(200, {"objectClassName": "ip network", "handle": net.handle, "name": net.name})
        else:
            if net.mode == "slow":
                time.sleep(net.delay)
            self._send(200, network_json(net))

    def _send(self, status: int, body: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/rdap+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test): nothing to tell it

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sim: SimRdap, address: str) -> None:
        self.sim = sim
        super().__init__((address, 0), _Handler)


class SimRdap:
    """A threaded RDAP server on 127.0.0.1 answering from a table of networks (most specific wins)."""

    def __init__(self, networks: Iterable[SimNetwork] = (), *, address: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError("SimRdap only binds to loopback addresses")
        self.address = address
        self._lock = threading.Lock()
        self._networks: list[SimNetwork] = []
        self.requests: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for net in networks:
            self.add(net)

    def add(self, net: SimNetwork) -> None:
        with self._lock:
            self._networks = [n for n in self._networks if n.cidr != net.cidr] + [net]
            self._networks.sort(key=lambda n: -n.network.prefixlen)

    def find(self, address: str) -> SimNetwork | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        with self._lock:
            return next((n for n in self._networks if n.network.version == ip.version and ip in n.network), None)

    def note(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def start(self) -> SimRdap:
        self._server = _Server(self, self.address)
        self._thread = serve_in_thread(self._server)
        return self

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> SimRdap:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SimRdap is not started")
        return f"http://{self.address}:{self._server.server_address[1]}/"
