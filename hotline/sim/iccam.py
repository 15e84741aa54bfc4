"""A simulated ICCAM (api3) on loopback, with mutual TLS and a test CA made at start-up.

It behaves as ``reference/ICCAM.md`` describes the platform to the public SCARt client: a bearer token
from ``POST Authentication`` (client certificate required for every connection), the ``no-reference``
list, reports and content items, report creation, per-content assessment, actions, hotline reference,
hosting and country moves, the reference-code endpoints, and its refusals:

* an item assigned to another country cannot be assessed or actioned (403);
* an item whose last assessment is Baseline, or that already has an action, cannot be assessed (400);
* an action type the item already has, or any action after a final one (Removed, Unavailable,
  NotIllegal), is refused (400); an action before any assessment is "not in the phase that accepts
  actions" (409, retryable);
* ``throttle(n, retry_after)`` answers the next ``n`` calls with 429 and ``Retry-After``;
  ``offline = True`` answers 503.

Every request is counted (``calls``), and every accepted write is logged (``writes``), so tests and
the demo can prove that nothing was sent twice. Everything is invented: ``*.sim.test`` URLs only.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import secrets
import ssl
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hotline.sim.loopback import serve_in_thread, stop_serving

__all__ = ["CODES", "FINAL_ACTIONS", "SimIccam", "TestPki"]

# The reference codes as the 2023 seed lists them (reference/ICCAM.md §4.4).
CODES: dict[str, list[tuple[int, str]]] = {
    "classifications": [(1, "Baseline CSAM"), (2, "National CSAM"), (4, "Ignore")],
    "age-categories": [(1, "Not categorised"), (2, "Infant"), (3, "Pre-pubescent"), (4, "Pubescent")],
    "gender-categories": [(1, "Not determined"), (2, "Female"), (3, "Male"), (4, "Both")],
    "site-types": [(2, "Website"), (3, "File host"), (4, "Image store"), (5, "Image board"), (6, "Forum"),
                   (7, "Banner site"), (8, "Link site"), (9, "Social networking"), (10, "Redirector"),
                   (11, "Web archive"), (18, "Search provider"), (20, "Image host"), (22, "Blog"),
                   (24, "Not applicable")],
    "commercialities": [(1, "Not determined"), (2, "Commercial"), (3, "Non-commercial")],
    "payment-methods": [(1, "Not determined"), (5, "PayPal"), (8, "Other"), (9, "None"), (13, "Bitcoin")],
    "action-types": [(1, "ReportedToLEA"), (2, "ReportedToISP"), (3, "Removed"), (4, "Unavailable"),
                     (6, "NotIllegal")],
}
FINAL_ACTIONS = frozenset({3, 4, 6})
BASELINE, IGNORE = 1, 4


@dataclass
class TestPki:
    """A throw-away CA with a server certificate for 127.0.0.1 and a client certificate whose key is
    encrypted with ``key_password``; all PEM files in ``directory``."""

    directory: Path
    key_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Simulated ICCAM test CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .sign(ca_key, hashes.SHA256()))
        self.ca_file = self._write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self._leaf(ca, ca_key, "server", ExtendedKeyUsageOID.SERVER_AUTH, None)
        self.client_cert, self.client_key = self._leaf(ca, ca_key, "client", ExtendedKeyUsageOID.CLIENT_AUTH,
                                                       self.key_password)

    def _leaf(self, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, name: str, usage: x509.ObjectIdentifier,
              password: str | None) -> tuple[str, str]:
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sim-iccam-{name}")]))
                   .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if name == "server":
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        return (self._write(f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM)),
                self._write(f"{name}-key.pem", key_pem))

    def _write(self, name: str, data: bytes) -> str:
        path = self.directory / name
        path.write_bytes(data)
        path.chmod(0o600)
        return str(path)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Refused(Exception):
    def __init__(self, status: int, key: str, message: str) -> None:
        super().__init__(message)
        self.status, self.key, self.message = status, key, message


class SimIccam:
    """The simulated platform. ``country`` is the hotline's own country (the caller); ``clock`` gives
    the time ICCAM stamps (a callable, so the fake-clock simulation can drive it)."""

    def __init__(self, *, country: str = "BE", username: str = "hotline-api", password: str | None = None,
                 clock: Any = None) -> None:
        self.country = country
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.reports: dict[int, dict[str, Any]] = {}
        self.contents: dict[int, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.writes: list[tuple[str, int, Any]] = []
        self.offline = False
        #: seconds to hold the answer to an accepted write (the write is applied first): a sender can be
        #: killed after ICCAM took its write but before it heard so
        self.answer_delay = 0.0
        self._throttle = 0
        self._retry_after = 1
        self._next_id = 1000
        self._lock = threading.RLock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.pki: TestPki | None = None

    # ------------------------------------------------------------------ life cycle

    def __enter__(self) -> SimIccam:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sim-iccam-")
        self.pki = TestPki(Path(self._tmp.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        context.load_verify_locations(self.pki.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no connection
        server = _Server(("127.0.0.1", 0), _Handler, self, context)
        self._server = server
        self._thread = serve_in_thread(server, name="sim-iccam")

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the simulator first"
        return f"https://127.0.0.1:{self._server.server_address[1]}/api/v3/"

    def environment(self) -> dict[str, str]:
        """The ``HOTLINE_ICCAM_*`` settings that point the connector at this simulator."""
        assert self.pki is not None
        return {"HOTLINE_ICCAM_BASE_URL": self.base_url, "HOTLINE_ICCAM_CLIENT_CERT": self.pki.client_cert,
                "HOTLINE_ICCAM_CLIENT_KEY": self.pki.client_key,
                "HOTLINE_ICCAM_CLIENT_KEY_PASSWORD": self.pki.key_password,
                "HOTLINE_ICCAM_CA_BUNDLE": self.pki.ca_file, "HOTLINE_ICCAM_USERNAME": self.username,
                "HOTLINE_ICCAM_PASSWORD": self.password}

    # ------------------------------------------------------------------ scenario helpers

    def throttle(self, calls: int, retry_after: int = 1) -> None:
        """Answer the next ``calls`` requests with 429 Too Many Requests and ``Retry-After``."""
        with self._lock:
            self._throttle, self._retry_after = calls, retry_after

    def add_report(self, urls: list[str], *, assigned_country: str | None = None, hosting_country: str | None = None,
                   reporting_hotline: int = 43, memo: str = "", classification: int | None = None,
                   assigned_at: dt.datetime | None = None) -> int:
        """A report another hotline filed, its items assigned to ``assigned_country`` (default: ours).
        The first URL is the source URL. Returns the reportId."""
        with self._lock:
            now = assigned_at or self.clock()
            report_id = self._new_id()
            report: dict[str, Any] = {"reportId": report_id, "memo": memo, "referrerUrl": None, "sourceUrlSiteType": 2,
                      "sourceUrlCommerciality": None, "sourceUrlPaymentMethods": None,
                      "reportingHotlineId": reporting_hotline, "reportingAnalystName": "analyst@partner.example.test",
                      "hotlineReceivedDate": _iso(now), "createdAt": now, "reportContents": []}
            self.reports[report_id] = report
            for n, url in enumerate(urls):
                content_id = self._add_content(report, url, is_source=n == 0, assigned=assigned_country or self.country,
                                  hosting=hosting_country or assigned_country or self.country, when=now,
                                  reference=None)
                if classification is not None:
                    self.contents[content_id]["assessments"].append(
                        {"classification": classification, "ageCategorization": 1, "genderCategorization": 1,
                         "assessingAnalystName": "analyst@partner.example.test"})
            return report_id

    def content(self, content_id: int) -> dict[str, Any]:
        with self._lock:
            copied: dict[str, Any] = json.loads(json.dumps(self._public_content(self.contents[content_id])))
            return copied

    def write_counts(self) -> Counter[tuple[str, int, Any]]:
        """How often each distinct write (kind, contentId, detail) was accepted: all 1 when nothing was doubled."""
        with self._lock:
            return Counter(self.writes)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _add_content(self, report: dict[str, Any], url: str, *, is_source: bool, assigned: str, hosting: str,
                     when: dt.datetime, reference: str | None, ip: str = "192.0.2.10") -> int:
        content_id = self._new_id()
        self.contents[content_id] = {
            "contentId": content_id, "reportId": report["reportId"], "memo": "",
            "url": {"urlString": url, "isSourceUrl": is_source, "hostingCountryCode": hosting,
                    "hostingIpAddress": ip},
            "countryAssignmentDate": when, "assignedCountryCode": assigned, "hotlineReference": reference,
            "assessments": [], "actions": []}
        report["reportContents"].append({"contentId": content_id, "urlString": url})
        return content_id

    # ------------------------------------------------------------------ the API

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix("/api/v3/").strip("/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.calls[f"{method} {_shape(path)}"] += 1
            if self._throttle > 0:
                self._throttle -= 1
                return 429, {"errors": {"RateLimit": ["Too many requests"]}}, {"Retry-After": str(self._retry_after)}
            if self.offline:
                return 503, {"errors": {"Service": ["Unavailable"]}}, {}
            try:
                data = json.loads(body) if body else None
                if path.startswith("Authentication"):
                    return 200, self._authenticate(path, data), {}
                if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
                    raise _Refused(401, "Authorization", "Bearer token empty or unknown")
                return 200, self._route(method, path, query, data), {}
            except _Refused as exc:
                return exc.status, {"errors": {exc.key: [exc.message]}}, {}
            except (KeyError, ValueError, TypeError) as exc:
                return 400, {"errors": {"Request": [f"bad request: {exc}"]}}, {}

    def _authenticate(self, path: str, data: Any) -> dict[str, Any]:
        if path == "Authentication" and (data or {}).get("username") == self.username \
                and data.get("password") == self.password:
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
            return {"bearerToken": token, "refreshToken": secrets.token_urlsafe(24), "bearerTokenExpiresIn": 1800}
        raise _Refused(401, "Authentication", "invalid user name or password")

    def _route(self, method: str, path: str, query: dict[str, str], data: Any) -> Any:
        segments = path.split("/")
        if method == "GET" and path == "rest/Content/no-reference":
            return self._no_reference(query)
        if method == "GET" and len(segments) == 3 and segments[:2] == ["rest", "Content"]:
            return self._public_content(self._item(segments[2]))
        if method == "GET" and len(segments) == 3 and segments[:2] == ["rest", "Reports"]:
            return self._public_report(self.reports[int(segments[2])])
        if method == "POST" and path == "rest/reports":
            return self._create_report(data)
        if method == "GET" and len(segments) >= 2 and segments[0] == "rest" and segments[1] in CODES:
            return [({"type": i, "name": n} if segments[1] == "action-types" else {"id": i, "name": n})
                    for i, n in CODES[segments[1]]]
        if len(segments) == 4 and segments[:2] == ["rest", "Content"]:
            return self._write(method, self._item(segments[2]), segments[3], query, data)
        if len(segments) == 5 and segments[:2] == ["rest", "Content"] and segments[3:] == ["url", "hosting"]:
            item = self._own(self._item(segments[2]))
            item["url"]["hostingCountryCode"] = query["newCountryCode"]
            item["url"]["hostingIpAddress"] = query.get("newIpAddress", "")
            self.writes.append(("hosting", item["contentId"], query["newCountryCode"]))
            return None
        raise _Refused(404, "Route", f"no such endpoint: {method} {path}")

    def _item(self, raw: str) -> dict[str, Any]:
        item = self.contents.get(int(raw))
        if item is None:
            raise _Refused(404, "Content", "content not found")
        return item

    def _own(self, item: dict[str, Any]) -> dict[str, Any]:
        if item["assignedCountryCode"] != self.country:
            raise _Refused(403, "Content", "content is assigned to another country")
        return item

    def _no_reference(self, query: dict[str, str]) -> list[dict[str, int]]:
        start = dt.datetime.strptime(query["countryAssignmentStartDate"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        limit = min(int(query.get("maxResults", 200)), 200)
        listed = [c for c in self.contents.values() if c["assignedCountryCode"] == self.country
                  and not c["hotlineReference"] and c["countryAssignmentDate"] >= start
                  and c["countryAssignmentDate"] <= self.clock()]
        listed.sort(key=lambda c: (c["countryAssignmentDate"], c["contentId"]))
        return [{"reportId": c["reportId"], "contentId": c["contentId"]} for c in listed[:limit]]

    def _write(self, method: str, item: dict[str, Any], what: str, query: dict[str, str], data: Any) -> Any:
        content_id = item["contentId"]
        if method == "PUT" and what == "hotline-reference":
            self._own(item)["hotlineReference"] = query["reference"]
            self.writes.append(("reference", content_id, query["reference"]))
            return None
        if method == "PUT" and what == "assigned-country":
            self._own(item)["assignedCountryCode"] = query["newCountryCode"]
            self.writes.append(("assigned-country", content_id, query["newCountryCode"]))
            return None
        if method == "PUT" and what == "assessment":
            self._own(item)
            last = item["assessments"][-1]["classification"] if item["assessments"] else None
            if last == BASELINE or item["actions"]:
                raise _Refused(400, "Assessment", "content is already assessed and cannot be assessed again")
            item["assessments"].append(dict(data))
            self.writes.append(("assessment", content_id, data["classification"]))
            return None
        if method == "POST" and what == "actions":
            return self._action(self._own(item), data)
        raise _Refused(404, "Route", f"no such endpoint: {method} .../{what}")

    def _action(self, item: dict[str, Any], data: dict[str, Any]) -> None:
        kind = int(data["actionType"])
        done = {a["actionType"] for a in item["actions"]}
        if kind in done:
            raise _Refused(400, "Action", "content already has this action")
        if done & FINAL_ACTIONS:
            raise _Refused(400, "Action", "content already has a final action")
        if not item["assessments"] and kind not in (4, 6):
            raise _Refused(409, "Action", "report is not in the phase that accepts actions")
        if kind > 3 and "reasonId" not in data:
            raise _Refused(400, "Action", "reasonId is required for this action type")
        item["actions"].append({"actionType": kind, "analystName": data.get("actioningAnalystName", ""),
                                "actionDate": data.get("actionDate"), "reasonId": data.get("reasonId")})
        self.writes.append(("action", item["contentId"], kind))

    def _create_report(self, data: dict[str, Any]) -> int:
        if not data.get("urls"):
            raise _Refused(400, "Report", "a report needs at least one URL")
        now = self.clock()
        report_id = self._new_id()
        report = {"reportId": report_id, "memo": data.get("memo", ""), "referrerUrl": data.get("sourceUrlReferrer"),
                  "sourceUrlSiteType": data.get("sourceUrlSiteType"),
                  "sourceUrlCommerciality": data.get("sourceUrlCommerciality"),
                  "sourceUrlPaymentMethods": data.get("sourceUrlPaymentMethods"), "reportingHotlineId": 0,
                  "reportingAnalystName": data.get("reportingAnalystName"),
                  "hotlineReceivedDate": data.get("hotlineReceivedDate"), "createdAt": now, "reportContents": [],
                  "hotlineReference": data.get("hotlineReference")}
        self.reports[report_id] = report
        for url in data["urls"]:
            country = str(url.get("hostingCountryCode") or self.country)
            content_id = self._add_content(report, url["urlString"], is_source=bool(url.get("isSourceUrl")),
                                           assigned=country, hosting=country, when=now,
                                           reference=url.get("hotlineReference"),
                                           ip=str(url.get("hostingIpAddress") or ""))
            if url.get("assessment"):
                self.contents[content_id]["assessments"].append(dict(url["assessment"]))
        self.writes.append(("report", report_id, data.get("hotlineReference")))
        return report_id

    def _public_content(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "countryAssignmentDate": _iso(item["countryAssignmentDate"])}

    def _public_report(self, report: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in report.items() if k != "createdAt"}


def _shape(path: str) -> str:
    """The path with ids replaced by ``{id}``: the key under which calls are counted."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[http.server.BaseHTTPRequestHandler], sim: SimIccam,
                 context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.sim = sim
        self.context = context

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        sock.settimeout(10)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client without a certificate fails the handshake: that is the point, not an error


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sim = self.server.sim
        status, answer, extra = sim.handle(self.command, self.path, self.headers, body)
        if self.command != "GET" and status == 200 and sim.answer_delay and "Authentication" not in self.path:
            time.sleep(sim.answer_delay)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
