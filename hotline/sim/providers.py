"""Simulated hosting providers for tests, benches and the demo, on top of the simulated web.

Each provider hosts synthetic pages (a generated pattern image on a small HTML page) on :class:`SimWeb`
hosts and reacts to the notices and information requests it receives, on a simulated clock:

=============  ===========================================================================
``prompt``     acknowledges after ``ack_after``, removes after ``remove_after``
``ignore``     never reacts
``ack_only``   acknowledges, never removes
``reupload``   acknowledges, removes, then puts the same content back after ``reupload_after``
``move``       acknowledges, then moves the content to the provider ``move_to`` (same URL,
               another network) after ``remove_after``
=============  ===========================================================================

Information requests: ``prompt`` answers after ``answer_after``, ``late`` after ``answer_after``
well past any deadline (the caller picks it), ``never`` never, ``refuse`` refuses.

Changes to the web (removal, re-upload) are applied by :meth:`SimProviders.advance`; what the provider
does on the hotline's side (clicking the signed link, or a host moving to another network) comes back
as :class:`Action` values for the caller to carry out. Notices reach a provider through an
:class:`~hotline.sim.smtp.SmtpSink` (``attach_sink``) or the simulated notice API (:class:`ProviderApi`).
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hotline.sim.images import make_image
from hotline.sim.loopback import serve_in_thread, stop_serving
from hotline.sim.smtp import Received, SmtpSink
from hotline.sim.web import SimWeb

__all__ = ["Action", "Behaviour", "ProviderApi", "RequestBehaviour", "SimProvider", "SimProviders"]

_LINK = re.compile(r"https?://\S+?/respond/\?t=\S+")
_URL = re.compile(r"^\s*\d+\.\s+(\S+)\s*$", re.MULTILINE)


class Behaviour(StrEnum):
    PROMPT = "prompt"
    IGNORE = "ignore"
    ACK_ONLY = "ack_only"
    REUPLOAD = "reupload"
    MOVE = "move"


class RequestBehaviour(StrEnum):
    PROMPT = "prompt"
    LATE = "late"
    NEVER = "never"
    REFUSE = "refuse"


@dataclass
class SimProvider:
    name: str
    behaviour: Behaviour = Behaviour.PROMPT
    contact: str = ""  # the address or endpoint its notices arrive at
    ack_after: timedelta = timedelta(hours=1)
    remove_after: timedelta = timedelta(hours=6)
    reupload_after: timedelta = timedelta(days=3)
    move_to: str = ""
    requests: RequestBehaviour = RequestBehaviour.PROMPT
    answer_after: timedelta = timedelta(days=2)


@dataclass(frozen=True)
class Action:
    """Something the provider does on the hotline's side: ``acknowledge`` / ``removed`` / ``answered`` /
    ``partial`` / ``refused`` through ``link``, or ``moved`` (``url`` now hosted by ``provider``)."""

    at: datetime
    kind: str
    provider: str
    link: str = ""
    url: str = ""
    note: str = ""


@dataclass
class _Event:
    at: datetime
    apply: Any  # Callable[[], Action | None]


@dataclass
class SimProviders:
    web: SimWeb
    providers: dict[str, SimProvider] = field(default_factory=dict)
    pages: dict[str, tuple[str, str, str, bytes]] = field(default_factory=dict)  # url -> host, path, media, bytes
    owner: dict[str, str] = field(default_factory=dict)  # url -> provider name
    handled: set[tuple[str, str]] = field(default_factory=set)  # (provider, url or link) already reacted to
    events: list[_Event] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: The simulated time: notices arriving now are received at this time (``advance`` moves it).
    now: datetime = datetime.min
    published: dict[str, bytes] = field(default_factory=dict)  # URL -> body, what is online right now
    media_types: dict[str, str] = field(default_factory=dict)  # URL -> the content type of its image

    def add(self, provider: SimProvider) -> SimProvider:
        self.providers[provider.name] = provider
        return provider

    # ------------------------------------------------------------------ content

    def host_content(self, provider: str, host: str, path: str, *, seed: int, marking: str = "") -> str:
        """Publish a synthetic page with one generated image; returns its URL. With ``marking`` the image carries
        that kind of AI-provenance metadata (hotline.sim.provenance; ``stripped``: generated, metadata removed)."""
        media_path = f"/m/{seed}.png"
        image, mime = make_image("png", seed, size=(96, 72)), "image/png"
        if marking:
            from hotline.sim.provenance import marked_image

            image, mime = marked_image(marking, seed, size=(96, 72))
        url = self.web.url(host, path)
        self.media_types[url] = mime
        self.pages[url] = (host, path, media_path, image)
        self.owner[url] = provider
        self._publish(url)
        return url

    def _publish(self, url: str) -> None:
        host, path, media_path, image = self.pages[url]
        body = f'<!doctype html><title>synthetic</title><p>generated test pattern</p><img src="{media_path}">'
        self.web.set_page(host, media_path, image, content_type=self.media_types.get(url, "image/png"))
        self.web.set_page(host, path, body)
        self.published[self.web.url(host, media_path)] = image
        self.published[url] = body.encode()

    def _unpublish(self, url: str) -> None:
        host, path, media_path, _ = self.pages[url]
        self.web.remove_page(host, path)
        self.web.remove_page(host, media_path)
        self.published.pop(url, None)
        self.published.pop(self.web.url(host, media_path), None)

    def serve(self, url: str) -> tuple[int, bytes]:
        """What the simulated web would answer for ``url`` (status, body), without a request: for benches
        that check hundreds of thousands of times on a simulated clock."""
        body = self.published.get(url)
        return (200, body) if body is not None else (404, b"not found")

    def media_url(self, url: str) -> str:
        host, _, media_path, _ = self.pages[url]
        return self.web.url(host, media_path)

    def media_bytes(self, url: str) -> bytes:
        return self.pages[url][3]

    # ------------------------------------------------------------------ receiving

    def attach_sink(self, sink: SmtpSink) -> None:
        sink.listeners.append(self._on_mail)

    def _on_mail(self, received: Received) -> None:
        provider = self.provider_for(" ".join(received.recipients))
        if provider is None:
            return
        text = received.text()
        link = (_LINK.findall(text) or [""])[0]
        at = self.now
        if "?t=r" in link:
            self.receive_request(provider.name, link, at=at)
        else:
            self.receive_notice(provider.name, _URL.findall(text), link, at=at)

    def provider_for(self, address: str) -> SimProvider | None:
        return next((p for p in self.providers.values() if p.contact and p.contact in address), None)

    def receive_notice(self, provider: str, urls: list[str], link: str, *, at: datetime) -> None:
        sim = self.providers[provider]
        with self.lock:
            fresh = [u for u in urls if (provider, u) not in self.handled and self.owner.get(u) == provider]
            self.handled.update((provider, u) for u in fresh)
            first_link = (provider, link) not in self.handled
            self.handled.add((provider, link))
        if sim.behaviour == Behaviour.IGNORE:
            return
        if first_link and link:
            self._later(at + sim.ack_after, Action(at + sim.ack_after, "acknowledge", provider, link=link))
        for url in fresh:
            self._schedule_fate(sim, url, link, at)

    def _schedule_fate(self, sim: SimProvider, url: str, link: str, at: datetime) -> None:
        gone = at + sim.remove_after
        if sim.behaviour in (Behaviour.PROMPT, Behaviour.REUPLOAD):
            self._later(gone, self._remover(url, Action(gone, "removed", sim.name, link=link, url=url)))
        if sim.behaviour == Behaviour.REUPLOAD:
            back = gone + sim.reupload_after
            self._later(back, self._reuploader(url, back, sim.name))
        if sim.behaviour == Behaviour.MOVE and sim.move_to:
            self._later(gone, self._mover(url, Action(gone, "moved", sim.move_to, url=url)))

    def receive_request(self, provider: str, link: str, *, at: datetime) -> None:
        sim = self.providers[provider]
        with self.lock:
            if (provider, link) in self.handled:
                return
            self.handled.add((provider, link))
        outcome = {RequestBehaviour.PROMPT: "answered", RequestBehaviour.LATE: "answered",
                   RequestBehaviour.REFUSE: "refused"}.get(sim.requests)
        if outcome is not None:
            when = at + sim.answer_after
            self._later(when, Action(when, outcome, provider, link=link, note="simulated answer"))

    # ------------------------------------------------------------------ time

    def _later(self, at: datetime, what: Any) -> None:
        with self.lock:
            self.events.append(_Event(at, what))

    def _remover(self, url: str, action: Action) -> Any:
        def run() -> Action:
            self._unpublish(url)
            return action

        return run

    def _reuploader(self, url: str, at: datetime, provider: str) -> Any:
        def run() -> None:
            self._publish(url)
            with self.lock:  # a re-upload is a new incident: the provider reacts to the next notice again
                self.handled.discard((provider, url))

        return run

    def _mover(self, url: str, action: Action) -> Any:
        def run() -> Action:
            self.owner[url] = action.provider
            return action

        return run

    def advance(self, now: datetime) -> list[Action]:
        """Apply every event due by ``now`` (web changes happen here); return the actions, oldest first."""
        self.now = now
        with self.lock:
            due = sorted((e for e in self.events if e.at <= now), key=lambda e: e.at)
            self.events = [e for e in self.events if e.at > now]
        actions: list[Action] = []
        for event in due:
            result = event.apply() if callable(event.apply) else event.apply
            if isinstance(result, Action):
                actions.append(result)
        return actions


# ---------------------------------------------------------------------- the simulated notice API


class _ApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    api: ProviderApi


class _ApiHandler(http.server.BaseHTTPRequestHandler):
    server: _ApiServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 10 * 1024 * 1024))
        status, answer = self.server.api.handle(self.path, dict(self.headers.items()), body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class ApiDelivery:
    key: str
    reference: str
    respond_url: str
    reports: list[dict[str, Any]]
    duplicate: bool


class ProviderApi:
    """A provider's abuse API on loopback: accepts POSTed XARF reports with an ``Idempotency-Key`` (a repeated
    key is answered like the first time and counted as a duplicate). ``fail_next(n, status)`` makes the
    next ``n`` requests fail; ``delay`` slows every answer (seconds)."""

    def __init__(self, providers: SimProviders | None = None, provider: str = "") -> None:
        self.providers, self.provider = providers, provider
        self.deliveries: list[ApiDelivery] = []
        self.keys: dict[str, dict[str, Any]] = {}
        self.failures: list[int] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self._server: _ApiServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ProviderApi:
        self._server = _ApiServer(("127.0.0.1", 0), _ApiHandler)
        self._server.api = self
        self._thread = serve_in_thread(self._server)
        return self

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> ProviderApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/abuse/notices"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self.lock:
            self.failures.extend([status] * count)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if self.delay:
            threading.Event().wait(self.delay)
        lowered = {k.lower(): v for k, v in headers.items()}
        key = lowered.get("idempotency-key", "")
        with self.lock:
            if self.failures:
                return self.failures.pop(0), {"error": "simulated failure"}
        try:
            reports = json.loads(body)
        except ValueError:
            return 400, {"error": "body is not JSON"}
        if not key or not isinstance(reports, list):
            return 400, {"error": "an Idempotency-Key header and a JSON array of XARF reports are required"}
        return self._accept(key, lowered, reports)

    def _accept(self, key: str, headers: dict[str, str], reports: list[Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            duplicate = key in self.keys
            answer = self.keys.setdefault(key, {"ticket": f"T-{len(self.keys) + 1}", "reports": len(reports)})
            self.deliveries.append(ApiDelivery(key, headers.get("x-hotline-notice", ""),
                                               headers.get("x-hotline-respond-url", ""), reports, duplicate))
        if self.providers is not None and self.provider and not duplicate:
            urls = sorted({str(r.get("url", "")) for r in reports if isinstance(r, dict)})
            sims = self.providers
            sims.receive_notice(self.provider, urls, headers.get("x-hotline-respond-url", ""), at=sims.now)
        return (200 if duplicate else 202), answer

