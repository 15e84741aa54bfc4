"""A second installation ("B") for the two-installation test and the throughput bench: a separate
process with its own SQLite file, keys, code and directory, serving the whole site on loopback.

    python -m hotline.partners.tests.peer serve PORT --directory FILE --ready-file FILE   (migrate, import, serve)
    python -m hotline.partners.tests.peer assess URL                    (analyst verdict, worker steps)
    python -m hotline.partners.tests.peer status URL STATUS             (send_status, worker step)
    python -m hotline.partners.tests.peer facts                         (JSON of what B holds)

``peer_env``, ``start`` and ``stop`` are the simulation's (``hotline.demo.peer``), whose installation B runs
on the simulated clock behind a harness; this one serves the plain site, threaded, on the real clock.
Nothing here reaches beyond loopback.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hotline.demo import peer as shared
from hotline.demo.peer import ROOT, facts, peer_env, stop

__all__ = ["peer_env", "run", "start", "stop"]


def start(env: dict[str, str], port: int, directory_file: Path, *,
          timeout: float = 900.0) -> tuple[subprocess.Popen[bytes], int]:
    """Start this module's ``serve`` (the plain site on the real clock) on ``port`` (0: a free one) and wait until
    it listens; return it and its port."""
    return shared.start(env, port, directory_file, module="hotline.partners.tests.peer", timeout=timeout)


def run(env: dict[str, str], *args: str) -> Any:
    """Run one command in installation B and return the JSON it prints."""
    done = subprocess.run([sys.executable, "-m", "hotline.partners.tests.peer", *args], env=env, cwd=ROOT,  # noqa: S603
                          capture_output=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"peer {args}: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


# ------------------------------------------------------------------------------ inside B


def _serve(port: int, directory_file: str, ready_file: str) -> None:
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.core.wsgi import get_wsgi_application

    shared.prepare(directory_file)
    server = ThreadedWSGIServer(("127.0.0.1", port), shared.QuietHandler)
    server.set_app(get_wsgi_application())
    shared.listening(server, ready_file)
    server.serve_forever()


def _assess(url: str) -> dict[str, Any]:
    from django.utils import timezone

    from hotline.assessment.services import assess_item, claim_item
    from hotline.demo.verdict_labels import SCRIPTED
    from hotline.partners.steps import exchange_step, verdict_status_step
    from hotline.reports.models import Item, ItemStatus

    item = Item.objects.get(canonical_url=url)
    if item.status == ItemStatus.NEW:  # set-up shortcut: B has no simulated web to capture from
        fields = item.transition(ItemStatus.CAPTURED, now=timezone.now())
        item.next_capture_at = None
        item.save(update_fields=[*fields, "next_capture_at"])
    user = shared.analyst()
    claim_item(item, user=user)
    assess_item(item, SCRIPTED["baseline"], user=user)
    return {"reported": verdict_status_step(), "sent": exchange_step()}


def _status(url: str, status: str) -> dict[str, Any]:
    from django.utils import timezone

    from hotline.partners.services import send_status
    from hotline.partners.steps import exchange_step
    from hotline.reports.models import Item

    queued = send_status(Item.objects.get(canonical_url=url), status, now=timezone.now())
    return {"queued": queued, "sent": exchange_step()}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("port", type=int)
    serve.add_argument("--directory", required=True)
    serve.add_argument("--ready-file", required=True)
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
        _serve(args.port, args.directory, args.ready_file)
        return
    result = {"assess": lambda: _assess(args.url), "status": lambda: _status(args.url, args.status),
              "facts": facts}[args.action]()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
