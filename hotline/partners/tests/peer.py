"""A second installation ("B") for the two-installation test and the throughput bench: a separate
process with its own SQLite file, keys, code and directory, serving the whole site on loopback.

    python -m hotline.partners.tests.peer serve PORT --directory FILE   (migrate, import, serve)
    python -m hotline.partners.tests.peer assess URL                    (analyst verdict, worker steps)
    python -m hotline.partners.tests.peer status URL STATUS             (send_status, worker step)
    python -m hotline.partners.tests.peer facts                         (JSON of what B holds)

``peer_env`` builds its environment; nothing here reaches beyond loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def peer_env(directory: Path, *, code: str, signing_key: str, home: str = "NL", **extra: str) -> dict[str, str]:
    """Environment of an installation living in ``directory`` (settings from env, like production)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")}
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


def start(env: dict[str, str], port: int, directory_file: Path, *, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """Start ``serve`` and wait until the port answers."""
    command = [sys.executable, "-m", "hotline.partners.tests.peer", "serve", str(port),
               "--directory", str(directory_file)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603 - our own module, our arguments
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"installation B exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("installation B did not start listening")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run(env: dict[str, str], *args: str) -> Any:
    """Run one command in installation B and return the JSON it prints."""
    done = subprocess.run([sys.executable, "-m", "hotline.partners.tests.peer", *args], env=env, cwd=ROOT,  # noqa: S603
                          capture_output=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"peer {args}: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


# ------------------------------------------------------------------------------ inside B


def _serve(port: int, directory_file: str) -> None:
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Handler(WSGIRequestHandler):
        # As production servers do (gunicorn sets TCP_NODELAY): without it every answer waits for
        # the client's delayed ACK between the header and body writes (~40 ms on loopback).
        disable_nagle_algorithm = True

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("partners", "import", directory_file)
    server = ThreadedWSGIServer(("127.0.0.1", port), Handler)
    server.set_app(get_wsgi_application())
    server.serve_forever()


def _analyst() -> Any:
    from hotline.accounts.models import Role, User
    from hotline.accounts.services import create_user
    from hotline.audit.services import SYSTEM

    found = User.objects.filter(username="b-analyst").first()
    return found or create_user("b-analyst", secrets.token_urlsafe(16), Role.ANALYST, actor=SYSTEM)


def _assess(url: str) -> dict[str, Any]:
    from django.utils import timezone

    from hotline.assessment.codes import AgeGroup, ContentType, LegalLimb, Verdict
    from hotline.assessment.services import AssessmentData, assess_item, claim_item
    from hotline.partners.delivery import exchange_step
    from hotline.partners.services import verdict_status_step
    from hotline.reports.models import Item, ItemStatus

    item = Item.objects.get(canonical_url=url)
    if item.status == ItemStatus.NEW:  # set-up shortcut: B has no simulated web to capture from
        fields = item.transition(ItemStatus.CAPTURED, now=timezone.now())
        item.next_capture_at = None
        item.save(update_fields=[*fields, "next_capture_at"])
    user = _analyst()
    claim_item(item, user=user)
    assess_item(item, AssessmentData(verdict=Verdict.BASELINE, legal_limb=LegalLimb.REAL_MINOR,
                                     content_type=ContentType.IMAGE, age_group=AgeGroup.PREPUBESCENT), user=user)
    return {"reported": verdict_status_step(), "sent": exchange_step()}


def _status(url: str, status: str) -> dict[str, Any]:
    from django.utils import timezone

    from hotline.partners.delivery import exchange_step
    from hotline.partners.services import send_status
    from hotline.reports.models import Item

    queued = send_status(Item.objects.get(canonical_url=url), status, now=timezone.now())
    return {"queued": queued, "sent": exchange_step()}


def _facts() -> dict[str, Any]:
    from hotline.partners.models import InboundMessage, OutboundMessage
    from hotline.reports.models import Report

    partner_reports = Report.objects.filter(source="partner").prefetch_related("items")
    return {
        "partner_reports": sorted(i.canonical_url for r in partner_reports for i in r.items.all()),
        "external_refs": sorted(r.external_ref for r in partner_reports),
        "inbound": dict(Counter(InboundMessage.objects.values_list("outcome", flat=True))),
        "outbound": dict(Counter(OutboundMessage.objects.values_list("state", flat=True))),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("port", type=int)
    serve.add_argument("--directory", required=True)
    assess = sub.add_parser("assess")
    assess.add_argument("url")
    status = sub.add_parser("status")
    status.add_argument("url")
    status.add_argument("status")
    sub.add_parser("facts")
    args = parser.parse_args()
    import django

    django.setup()
    if args.action == "serve":
        _serve(args.port, args.directory)
        return
    result = {"assess": lambda: _assess(args.url), "status": lambda: _status(args.url, args.status),
              "facts": _facts}[args.action]()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
