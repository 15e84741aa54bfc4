"""Exchange throughput between two local installations, and bare signed POSTs as the baseline.

    .venv/bin/python bench/exchange_throughput.py [--messages 300] [--database postgres://postgres@127.0.0.1:5432/x]

Installation A is this process (a scratch database); installation B is a subprocess with its own
SQLite file and keys (hotline/partners/tests/peer.py), serving the whole site on a loopback port.
A queues N forwards (``forward_item``) and its worker step (``exchange_step``) delivers them to B,
which verifies each, stores a partner report through the normal intake, signs and stores its ack,
and A verifies the ack and records delivery. Baseline: the same N messages signed and POSTed one by
one to a bare receiver process that only verifies the signature and answers a signed ack (no
database on either side). Prints messages/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--database", default="", help="A's DATABASE_URL (default: a scratch SQLite file)")
    parser.add_argument("--concurrency", type=int, default=0, help="messages in flight (default: the setting)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hotline-bench-exchange-"))
    _setup_a(scratch, args.database)
    from hotline.lib import signing
    from hotline.partners.tests.peer import peer_env, start, stop

    b_private, b_public = signing.new_keypair()
    (scratch / "b").mkdir()
    b_env = peer_env(scratch / "b", code="nl-sim", signing_key=b_private)
    directory = scratch / "b-directory.json"
    directory.write_text(json.dumps({"hotlines": [_entry_for_a()]}))
    b_process, b_port = start(b_env, 0, directory)
    try:
        full = _full_run(args.messages, b_port, b_public, args.concurrency or None)
    finally:
        stop(b_process)
    from django.conf import settings

    flight = args.concurrency or settings.HOTLINE_EXCHANGE_CONCURRENCY
    bare = _bare_run(args.messages, b_private, flight)
    from django.db import connection

    n = args.messages
    print(f"messages: {n} forwards, {flight} in flight, A on {connection.vendor}, B on sqlite (separate process), "
          "loopback HTTP")
    print(f"full exchange (A worker -> B): {full:6.2f} s = {n / full:7.1f} messages/s")
    print(f"bare signed POSTs (baseline):  {bare:6.2f} s = {n / bare:7.1f} messages/s (same number in flight)")
    print(f"ratio full / bare:             {full / bare:6.1f}x the time")


def _setup_a(scratch: Path, database: str) -> None:
    if database.startswith("postgres"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from intake_throughput import scratch_database

        os.environ["DATABASE_URL"] = scratch_database(database)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/a.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "hotline.settings_test"
    os.environ["HOTLINE_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def _entry_for_a() -> dict[str, object]:
    from hotline.partners.services import our_code, our_public_key

    return {"code": our_code(), "name": "Installation A", "countries": ["BE"], "public_key": our_public_key(),
            "endpoint": "http://127.0.0.1:9/api/v1/exchange/messages"}


def _full_run(n: int, b_port: int, b_public: str, concurrency: int | None) -> float:
    from django.utils import timezone

    from hotline.audit.services import SYSTEM
    from hotline.partners.models import OutboundMessage
    from hotline.partners.services import forward_item, save_hotline
    from hotline.partners.steps import exchange_step
    from hotline.reports.models import Item, Source
    from hotline.reports.services import IncomingReport, receive_reports

    partner = save_hotline({"code": "nl-sim", "name": "Installation B", "countries": ["NL"], "public_key": b_public,
                            "endpoint": f"http://127.0.0.1:{b_port}/api/v1/exchange/messages"}, actor=SYSTEM)
    urls = [f"http://files-{i}.hosting-nl.sim.test/gallery/{i}.html" for i in range(n)]
    receive_reports([IncomingReport(source=Source.PUBLIC, urls=[u]) for u in urls], actor=SYSTEM)
    now = timezone.now()
    for item in Item.objects.order_by("pk"):
        forward_item(item, partner, trace=None, actor=SYSTEM, now=now)
    started = time.perf_counter()
    while exchange_step(concurrency=concurrency):
        pass
    elapsed = time.perf_counter() - started
    delivered = OutboundMessage.objects.filter(state="delivered").count()
    if delivered != n:
        raise SystemExit(f"only {delivered} of {n} messages were delivered")
    return elapsed


def _bare_run(n: int, b_private: str, flight: int) -> float:
    from django.utils import timezone

    from hotline.lib import signing
    from hotline.partners import protocol
    from hotline.partners.delivery import HttpTransport
    from hotline.partners.services import our_key, our_public_key

    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_bare_receiver, args=(queue, our_public_key(), b_private), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    transport = HttpTransport(timeout=10, allow_loopback=True)
    b_key = signing.public_key(signing.public_b64(signing.private_key(b_private)))
    key = our_key()

    def one(i: int) -> None:
        body: dict[str, object] = {"url": f"http://files-{i}.hosting-nl.sim.test/gallery/{i}.html",
                                   "reference": f"item-{i}", "trace": None, "assessment": None, "media": []}
        now = timezone.now()
        wire = protocol.seal(protocol.make_message("forward", sender="be-hotline", recipient="nl-sim", body=body,
                                                   created_at=now, sent_at=now), key)
        reply = transport.post(f"http://127.0.0.1:{port}/", protocol.wire_bytes(wire))
        answer = json.loads(reply.body)
        if reply.status != 200 or not signing.verify(b_key, answer["message"], answer["signature"]):
            raise SystemExit("the bare receiver refused a message")

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=flight) as pool:
            list(pool.map(one, range(n)))
        return time.perf_counter() - started
    finally:
        transport.close()
        server.terminate()


def _bare_receiver(queue: multiprocessing.Queue[int], a_public: str, b_private: str) -> None:
    """Verify and ack, nothing else: the floor any persistent exchange is measured against."""
    import http.server
    from datetime import UTC, datetime

    from hotline.lib import signing
    from hotline.partners import protocol

    a_key, b_key = signing.public_key(a_public), signing.private_key(b_private)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            wire = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ok = signing.verify(a_key, wire["message"], wire["signature"])
            now = datetime.now(UTC)
            ack = protocol.make_message("ack", sender="nl-sim", recipient="be-hotline", created_at=now, sent_at=now,
                                        body={"ref": wire["message"]["id"], "outcome": "accepted", "reference": ""})
            body = protocol.wire_bytes(protocol.seal(ack, b_key))
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    queue.put(server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
