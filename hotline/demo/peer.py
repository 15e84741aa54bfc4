"""The simulation's partner hotline as a real second installation ("B"): the product itself in a subprocess
(its own SQLite file, keys and exchange code, the product's WSGI app) behind a harness that runs it on the
simulation's clock, and our own site on a loopback thread so that B reaches our exchange endpoint.

    python -m hotline.demo.peer serve PORT --directory FILE --ready-file FILE   (in B: migrate, import, serve)

A's side: ``Partner`` (start, ``register``, ``tick``, ``facts``, stop) and ``OwnSite``. The harness is
simulation code, not product code; nothing here reaches beyond loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import http.client
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import time_machine
from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, WSGIServer
from django.core.wsgi import get_wsgi_application
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.utils import timezone

from hotline.demo import blankdb
from hotline.lib import signing
from hotline.sim.loopback import serve_in_thread, stop_serving

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from hotline.accounts.models import User
    from hotline.partners.models import PartnerHotline

ROOT = Path(__file__).resolve().parents[2]
EXCHANGE = "/api/v1/exchange/messages"
TICK, FACTS = "/__sim__/tick", "/__sim__/facts"
TOKEN_ENV = "HOTLINE_SIM_PARTNER_TOKEN"  # noqa: S105 - the name of the variable, not a secret
MAX_ROUNDS = 200  # a step of B's that keeps finding work this often in one tick is a bug


def peer_env(directory: Path, *, code: str, signing_key: str, home: str = "NL", **extra: str) -> dict[str, str]:
    """Environment of an installation living in ``directory`` (settings from env, like production)."""
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT", "XDG_CACHE_HOME", blankdb.CACHE_ENV)}
    return keep | {
        "DJANGO_SETTINGS_MODULE": "hotline.settings", "PYTHONPATH": str(ROOT),
        "HOTLINE_DEBUG": "false", "HOTLINE_SSL_REDIRECT": "false",
        "HOTLINE_ALLOWED_HOSTS": "127.0.0.1,localhost", "HOTLINE_VAR_DIR": str(directory),
        "DATABASE_URL": f"sqlite:///{directory / 'hotline.sqlite3'}",
        "HOTLINE_SECRET_KEY": secrets.token_urlsafe(40),
        "HOTLINE_FIELD_KEYS": "peer1:" + "C" * 43, "HOTLINE_STORE_KEYS": "peerstore1:" + "D" * 43,
        "HOTLINE_EVIDENCE_SIGNING_KEY": "R" * 43 + "=",
        "HOTLINE_EXCHANGE_CODE": code, "HOTLINE_EXCHANGE_SIGNING_KEY": signing_key, "HOTLINE_HOME_COUNTRY": home,
        "HOTLINE_FETCH_ALLOW_LOOPBACK": "true", "HOTLINE_LOG_LEVEL": "WARNING",
        "HOTLINE_EXCHANGE_RATE": "100000/m",
    } | extra


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str], port: int, directory_file: Path, *, module: str = "hotline.demo.peer",
          timeout: float = 900.0) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``python -m MODULE serve`` and wait until B says it listens (or exits); return it and its port.

    ``port`` 0 lets B's own socket pick a free port, which B writes to a file beside ``directory_file`` once it
    listens and is ready: no other process can take that port in between (a port picked here and bound
    later could be, and then the first request reached someone else's server). A given port (a restart on
    the port A already knows) that is taken makes B exit, and this raise. The long cap is only a backstop: on
    a loaded machine migrating its database can take minutes, and that is not a failure."""
    ready = directory_file.with_name(directory_file.name + ".port")
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", module, "serve", str(port), "--directory", str(directory_file),
               "--ready-file", str(ready)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603 - our own module, our arguments
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"installation B exited with {process.returncode}")
        if ready.exists():
            return process, int(ready.read_text())
        time.sleep(0.1)
    stop(process)
    raise RuntimeError("installation B did not start listening")


def listening(server: WSGIServer, ready_file: str) -> None:
    """Tell ``start`` (in A) that B listens, and on which port: written whole, then renamed into place."""
    path = Path(ready_file)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(str(server.server_address[1]))
    partial.replace(path)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ------------------------------------------------------------------------------ A's side


class OwnSite:
    """Our own site (the product's WSGI app) on a loopback thread: a simulation has no web server, and B
    must reach our exchange endpoint. Its threads share the process's (fake) clock."""

    def __init__(self) -> None:
        self._server: ThreadedWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._shared: dict[str, Any] = {}

    def __enter__(self) -> OwnSite:
        # An in-memory SQLite database exists once per connection: share ours, as LiveServerThread does.
        self._shared = {c.alias: c for c in connections.all() if isinstance(c, SQLiteWrapper) and c.is_in_memory_db()}
        for conn in self._shared.values():
            conn.inc_thread_sharing()
        self._server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False,
                                          connections_override=self._shared or None)
        self._server.set_app(get_wsgi_application())
        self._thread = serve_in_thread(self._server, poll_interval=0.1, name="own-site")
        return self

    def __exit__(self, *exc: object) -> None:
        stop_serving(self._server, self._thread, timeout=10)
        for conn in self._shared.values():
            conn.dec_thread_sharing()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"


class QuietHandler(WSGIRequestHandler):
    """Django's request handler without the access log."""

    disable_nagle_algorithm = True  # else each answer waits for the client's delayed ACK (~40 ms)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Partner:
    """Installation B as A sees it: started on ``with``, registered in our directory by ``register()``,
    told the time and made to work by ``tick(now)``; ``facts()`` says what it holds."""

    def __init__(self, *, our_endpoint: str, sim_hosts: dict[str, str], code: str = "nl-sim",
                 countries: tuple[str, ...] = ("NL",), home: Path | None = None) -> None:
        self.our_endpoint, self.sim_hosts, self.code, self.countries = our_endpoint, sim_hosts, code, countries
        self.home = home
        self.token = secrets.token_urlsafe(32)
        self.port = 0
        self.public_key = ""
        self._stack = ExitStack()

    def __enter__(self) -> Partner:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        from hotline.partners.services import our_code, our_public_key

        home = self.home or Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-sim-b-")))
        directory_file = home / "directory.json"
        directory_file.write_text(json.dumps({"hotlines": [{
            "code": our_code(), "name": "Installation A (the simulated hotline)",
            "countries": [settings.HOTLINE_HOME_COUNTRY], "public_key": our_public_key(),
            "endpoint": self.our_endpoint, "languages": ["en"]}]}))
        private, self.public_key = signing.new_keypair()
        (home / "var").mkdir(exist_ok=True)
        env = peer_env(home / "var", code=self.code, signing_key=private, home=self.countries[0],
                       HOTLINE_SIM_HOSTS=json.dumps(self.sim_hosts), **{TOKEN_ENV: self.token})
        process, self.port = start(env, 0, directory_file)
        self._stack.callback(stop, process)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EXCHANGE}"

    def register(self) -> PartnerHotline:
        """Put B in our directory: its endpoint, its public key, the countries it serves."""
        from hotline.audit.services import SYSTEM
        from hotline.partners.models import PartnerHotline
        from hotline.partners.services import save_hotline

        existing = PartnerHotline.objects.filter(code=self.code).first()
        return save_hotline({
            "code": self.code, "name": f"Partner hotline {self.code} (simulated installation)",
            "countries": list(self.countries), "endpoint": self.url, "public_key": self.public_key,
            "languages": ["en"], "contact_email": f"exchange@{self.code}.example", "active": True},
            actor=SYSTEM, hotline=existing)

    def tick(self, now: datetime) -> dict[str, Any]:
        """Set B's clock to ``now`` and let B work: capture, assess, report verdicts, deliver."""
        return self._call("POST", TICK, {"now": now.isoformat()})

    def facts(self) -> dict[str, Any]:
        return self._call("GET", FACTS)

    def counts(self) -> dict[str, int]:
        """B's end state in figures: partner reports, inbound outcomes, statuses sent, outbound states."""
        held = self.facts()
        return {"reports": len(held["partner_reports"]),
                **{f"inbound_{k}": v for k, v in sorted(held["inbound"].items())},
                **{f"sent_{k}": v for k, v in sorted(held["statuses_sent"].items())},
                **{f"outbound_{k}": v for k, v in sorted(held["outbound"].items())}}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            connection.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                               headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            answer = connection.getresponse()
            content = answer.read()
        finally:
            connection.close()
        if answer.status != 200:
            raise RuntimeError(f"installation B answered {answer.status} to {path}: {content[:500]!r}")
        result: dict[str, Any] = json.loads(content)
        return result


# ------------------------------------------------------------------------------ inside B


class Harness:
    """B's WSGI app on the simulation's clock. Every request runs inside ``time_machine.travel`` to the
    harness clock (the last ``tick`` moment plus the real time since); ``/__sim__/`` runs B's own work.

    time_machine's clock is process-wide, so requests must not overlap: the lock serialises them (and the
    server is single-threaded as well)."""

    def __init__(self, app: WSGIApplication, token: str) -> None:
        self.app, self.token = app, token.encode()
        self.moment: datetime | None = None
        self.set_at = 0.0
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self.lock:
            if str(environ.get("PATH_INFO", "")).startswith("/__sim__/"):
                status, answer = self._sim(environ)
                return _json(start_response, status, answer)
            with self._clock():
                result = self.app(environ, start_response)
                try:
                    return [b"".join(result)]  # the whole answer is made on the harness clock
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()

    def now(self) -> datetime | None:
        if self.moment is None:
            return None
        return self.moment + timedelta(seconds=time.monotonic() - self.set_at)

    def _clock(self) -> contextlib.AbstractContextManager[Any]:
        now = self.now()
        return contextlib.nullcontext() if now is None else time_machine.travel(now, tick=True)

    def _sim(self, environ: WSGIEnvironment) -> tuple[int, dict[str, Any]]:
        supplied = str(environ.get("HTTP_AUTHORIZATION", "")).removeprefix("Bearer ").encode()
        if not hmac.compare_digest(supplied, self.token):
            return 403, {"error": "token"}
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        if (method, path) == ("GET", FACTS):
            with self._clock():
                return 200, facts()
        if (method, path) != ("POST", TICK):
            return 404, {"error": "no such harness call"}
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 4096)
            moment = datetime.fromisoformat(json.loads(environ["wsgi.input"].read(length))["now"])
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"error": f"tick wants {{'now': iso8601}}: {exc}"}
        if moment.tzinfo is None:
            return 400, {"error": "tick wants an aware time"}
        self.moment, self.set_at = moment, time.monotonic()
        with self._clock():
            return 200, work()


def _json(start_response: StartResponse, status: int, answer: dict[str, Any]) -> list[bytes]:
    body = json.dumps(answer).encode()
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def work() -> dict[str, Any]:
    """B's own work for this moment: capture what partners forwarded, the analyst's verdicts, the statuses
    back. B's DNS, RDAP, tracing, routing and notices are not simulated: no step of theirs runs here."""
    from hotline.evidence.models import Capture
    from hotline.evidence.steps import capture_step
    from hotline.partners.models import DeliveryState, OutboundMessage
    from hotline.partners.steps import exchange_step, verdict_status_step

    now = timezone.now()
    captures, queued = Capture.objects.count(), OutboundMessage.objects.count()
    delivered = OutboundMessage.objects.filter(state=DeliveryState.DELIVERED).count()
    _until_idle(lambda: capture_step(now=now))
    assessed = analyst_works(now)
    _until_idle(lambda: verdict_status_step(now=now))
    _until_idle(lambda: exchange_step(now=now))
    return {
        "now": now.isoformat(), "captured": Capture.objects.count() - captures, "assessed": assessed,
        "queued": OutboundMessage.objects.count() - queued,
        "delivered": OutboundMessage.objects.filter(state=DeliveryState.DELIVERED).count() - delivered,
    }


def _until_idle(step: Callable[[], bool]) -> None:
    for _ in range(MAX_ROUNDS):
        if not step():
            return


def analyst_works(now: datetime) -> int:
    """B's scripted analyst labels every captured item ``baseline`` (the plan forwards illegal sites only;
    the codes are those of the simulation's own analyst; an item B could not capture waits). Returns how
    many it assessed."""
    from django.db.models import Exists, OuterRef

    from hotline.assessment.models import Assessment
    from hotline.assessment.services import assess_item, claim_item
    from hotline.demo.verdict_labels import SCRIPTED
    from hotline.reports.models import Item, ItemStatus

    final = Assessment.objects.filter(item=OuterRef("pk"), is_final=True)
    waiting = Item.objects.filter(status=ItemStatus.CAPTURED, claimed_by__isnull=True).filter(~Exists(final))
    done, user = 0, None
    for item in waiting.order_by("pk"):
        user = user or analyst()
        claim_item(item, user=user, now=now)
        assess_item(item, SCRIPTED["baseline"], user=user, now=now)
        done += 1
    return done


def analyst() -> User:
    from hotline.accounts.models import Role, User
    from hotline.accounts.services import create_user
    from hotline.audit.services import SYSTEM

    found = User.objects.filter(username="b-analyst").first()
    return found or create_user("b-analyst", secrets.token_urlsafe(16), Role.ANALYST, actor=SYSTEM)


def facts() -> dict[str, Any]:
    """What B holds: its partner reports' URLs and references, inbound outcomes, outbound states, the
    statuses it sent and its items' verdicts."""
    from hotline.partners.models import InboundMessage, MessageKind, OutboundMessage
    from hotline.reports.models import Item, Report

    partner_reports = Report.objects.filter(source="partner").prefetch_related("items")
    statuses = OutboundMessage.objects.filter(kind=MessageKind.STATUS).values_list("body", flat=True)
    return {
        "partner_reports": sorted(i.canonical_url for r in partner_reports for i in r.items.all()),
        "external_refs": sorted(r.external_ref for r in partner_reports),
        "inbound": dict(Counter(InboundMessage.objects.values_list("outcome", flat=True))),
        "outbound": dict(Counter(OutboundMessage.objects.values_list("state", flat=True))),
        "statuses_sent": dict(Counter(body.get("status") for body in statuses)),
        "items": dict(Counter(Item.objects.values_list("status", flat=True))),
        "verdicts": dict(Counter(Item.objects.values_list("verdict", flat=True))),
    }


def prepare(directory_file: str) -> None:
    """Migrate B's database (from the kept blank copy: ``blankdb``) and import its directory (installation A)."""
    from django.core.management import call_command

    blankdb.migrate()
    call_command("createcachetable", verbosity=0)
    call_command("partners", "import", directory_file, stdout=io.StringIO())


def serve(port: int, directory_file: str, ready_file: str) -> None:
    """Prepare B and serve the harness on ``port`` (0: any free one), one request at a time."""
    prepare(directory_file)
    server = WSGIServer(("127.0.0.1", port), QuietHandler)
    server.set_app(Harness(get_wsgi_application(), os.environ[TOKEN_ENV]))
    listening(server, ready_file)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hotline.demo.peer")
    sub = parser.add_subparsers(dest="action", required=True)
    serving = sub.add_parser("serve")
    serving.add_argument("port", type=int)
    serving.add_argument("--directory", required=True)
    serving.add_argument("--ready-file", required=True)
    args = parser.parse_args(argv)
    import django

    django.setup()
    # Ctrl-C in the demo's terminal reaches B too (one process group), possibly in the middle of a request, where
    # the WSGI handler would print the KeyboardInterrupt's traceback: B ignores it, and the demo, which started
    # B, stops it (SIGTERM) as it stops itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(args.port, args.directory, args.ready_file)


if __name__ == "__main__":
    main()

