"""The analyst's workbench against today's item page: a Playwright-driven analyst assesses the same fixed
mix of items through each real UI, on SQLite, and the script counts what it did and what the server spent.

    .venv/bin/python bench/workbench.py [--items 100] [--baseline /work/main]

The mix (one fifth each): known content (one file matched in a trusted list), clear illegal (one
image), clear not illegal (one image), unreachable (the capture failed), and a mixed page (an illegal
and a legal image). Every URL is on ``.sim.test``, every image a generated pattern, every verdict a label.

Each flow runs in its own process on its own scratch database, with the code tree it measures: the new
workbench from this tree, "before" from ``--baseline`` (a checkout of the code before the workbench).
Actions are what the scripted analyst did: a key press or a click is one action, choosing from a
drop-down list is two (open it, pick). Server time is measured around the WSGI application for every
request the analyst's browser made (pages, posts, previews; static files excluded); page time is the
item page alone (its p95 is the goal). Both flows start and end at the queue.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
KINDS = ("known", "illegal", "not_illegal", "unreachable", "mixed")
GOALS = {"known": 3, "unreachable": 3, "illegal": 8, "not_illegal": 8, "mixed": 8}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--baseline", default="/work/main", help="code tree of the UI before the workbench")
    parser.add_argument("--run", choices=("old", "new"), help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(HERE), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, Path(args.tree), args.items)))
        return
    results = {flow: _child(flow, tree, args.items) for flow, tree in (("old", args.baseline), ("new", str(HERE)))}
    report(results, args.items)


def _child(flow: str, tree: str, items: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": tree, "DJANGO_SETTINGS_MODULE": "hotline.settings_test"}
    done = subprocess.run([sys.executable, __file__, "--run", flow, "--tree", tree, "--items", str(items)],
                          env=env, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"the {flow} flow failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(results: dict[str, dict[str, Any]], items: int) -> None:
    print(f"{items} items, {len(KINDS)} kinds, SQLite, Chromium via Playwright (actions: key or click = 1, "
          "drop-down = 2)")
    print(f"{'kind':<14}{'before':>8}{'after':>8}{'goal':>6}   actions per item")
    for kind in KINDS:
        old, new = results["old"]["actions"][kind], results["new"]["actions"][kind]
        print(f"{kind:<14}{old:>8.1f}{new:>8.1f}{'≤' + str(GOALS[kind]):>6}")
    for label, key in (("all items", "actions_per_item"), ("server ms/item", "server_ms_per_item"),
                       ("page p95 ms", "page_p95_ms"), ("page median ms", "page_median_ms"),
                       ("wall s", "wall_s")):
        old, new = results["old"][key], results["new"][key]
        ratio = f"{old / new:.2f}x" if new else "-"
        print(f"{label:<14}{old:>8.1f}{new:>8.1f}   before/after {ratio}")
    print(f"verdicts after: {results['new']['verdicts']}  (before: {results['old']['verdicts']})")
    print(f"per-file rows after: {results['new']['media_rows']}")


# ------------------------------------------------------------------------------- one flow, in its own process


class Timed:
    """WSGI wrapper: server seconds per request path (static files excluded)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.records: list[tuple[str, str, float]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        body = list(self.app(environ, start_response))
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/static/"):
            with self.lock:
                self.records.append((environ["REQUEST_METHOD"], path, time.perf_counter() - started))
        return body

    def take(self) -> list[tuple[str, str, float]]:
        with self.lock:
            taken, self.records = self.records, []
        return taken


def run(flow: str, tree: str | Path, count: int) -> dict[str, Any]:
    sys.path.insert(0, str(tree))
    scratch = tempfile.mkdtemp(prefix="hotline-bench-workbench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ["HOTLINE_VIEWING_BUDGET_MINUTES"] = "600"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.HOTLINE_STORE = {"BACKEND": "filesystem", "ROOT": f"{scratch}/store"}
    settings.HOTLINE_AUTO_ASSESS_KNOWN = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    call_command("migrate", verbosity=0)
    kinds = build(count)
    cookie = session_cookie()
    server, timed, port = serve()
    try:
        started = time.perf_counter()
        actions, per_item_records = drive(flow, port, cookie, kinds, timed)
        wall = time.perf_counter() - started
    finally:
        server.shutdown()
    return summarise(actions, per_item_records, kinds, wall)


def build(count: int) -> dict[int, str]:
    """``count`` captured items in a fixed order of kinds; returns item id -> kind."""
    from django.utils import timezone

    from hotline.audit.services import SYSTEM
    from hotline.evidence.models import Capture, Media
    from hotline.evidence.store import put_blob
    from hotline.hashes.models import Bank, Entry, MediaMatch
    from hotline.reports.models import Item, ItemStatus, Source
    from hotline.reports.services import IncomingReport, receive_reports
    from hotline.sim.images import make_image

    bank = Bank.objects.create(name="Partner list (simulated)", kind="partner", trusted=True)
    kinds: dict[int, str] = {}
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        url = f"http://bench-{n}.sim.test/{kind}/page"
        result = receive_reports([IncomingReport(source=Source.PUBLIC, urls=[url], text="A synthetic report.")],
                                 actor=SYSTEM)[0]
        item = Item.objects.get(pk=result.urls[0].item_id)
        now = timezone.now()
        if kind == "unreachable":
            Capture.objects.create(item=item, started_at=now, finished_at=now, outcome="failed",
                                   requested_url=url, failure_code="http_404", failure_reason="404",
                                   reason_code="site_down")
            fields = item.transition(ItemStatus.UNREACHABLE, now=now)
        else:
            capture = Capture.objects.create(item=item, started_at=now, finished_at=now, outcome="captured",
                                             requested_url=url, final_url=url, http_status=200, peer_ip="127.0.0.1")
            for seed in ((n * 7 + 1, n * 7 + 2) if kind == "mixed" else (n * 7 + 1,)):
                data = make_image("png", seed, size=(320, 240))
                blob = put_blob(data)
                media = Media.objects.create(
                    capture=capture, item=item, url=f"{url}/m{seed}.png", blob=blob, kind="image",
                    mime="image/png", size=len(data), sha256=blob.sha256, width=320, height=240, fetched_at=now)
                if kind == "known":
                    entry = Entry.objects.create(bank=bank, signal_type="sha256", value=blob.sha256,
                                                 verdict="baseline", classification="baseline", added_at=now)
                    MediaMatch.objects.create(media=media, entry=entry, bank=bank, signal_type="sha256",
                                              distance=0, matched_at=now)
                    media.inherited_verdict = "baseline"
                    media.inherited_from = f"{bank.name} (entry {entry.pk}, sha256)"
                    media.save(update_fields=["inherited_verdict", "inherited_from"])
            capture.matched_at = now
            capture.save(update_fields=["matched_at"])
            fields = item.transition(ItemStatus.CAPTURED, now=now)
        item.next_capture_at = None
        item.save(update_fields=[*fields, "next_capture_at"])
        kinds[item.pk] = kind
    return kinds


def session_cookie() -> dict[str, str]:
    from django.test import Client

    from hotline.accounts.models import Role
    from hotline.accounts.services import create_user
    from hotline.accounts.session import mark_second_factor_done
    from hotline.audit.services import SYSTEM

    user = create_user("bench-analyst", "correct-horse-battery-staple", Role.ANALYST, actor=SYSTEM)
    client = Client()
    client.force_login(user)
    session = client.session
    mark_second_factor_done(session)
    session.save()
    name = settings_value("SESSION_COOKIE_NAME")
    return {"name": name, "value": client.cookies[name].value}


def settings_value(name: str) -> str:
    from django.conf import settings

    return str(getattr(settings, name))


def serve() -> tuple[Any, Timed, int]:
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    timed = Timed(get_wsgi_application())
    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.set_app(StaticFilesHandler(timed))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, timed, server.server_address[1]


def drive(flow: str, port: int, cookie: dict[str, str], kinds: dict[int, str],
          timed: Timed) -> tuple[dict[int, int], Any]:
    import shutil

    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    base = f"http://127.0.0.1:{port}"
    actions: dict[int, int] = defaultdict(int)
    server_records: dict[int, list[tuple[str, str, float]]] = defaultdict(list)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        context = browser.new_context(base_url=base, viewport={"width": 1200, "height": 900})
        context.add_cookies([{"name": cookie["name"], "value": cookie["value"], "url": base}])
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto("/queue/")
        timed.take()
        step = Old(page) if flow == "old" else New(page)
        step.take_next()
        pending = 1  # the first take-next click belongs to the first item
        while "/items/" in page.url:
            pk = int(page.url.rstrip("/").split("/")[-1])
            actions[pk] += pending + step.assess(pk, kinds[pk])
            page.wait_for_load_state()
            pending = 0
            if "/queue/" in page.url and flow == "old":
                step.take_next()
                pending = 1
            server_records[pk] += timed.take()
        browser.close()
    return actions, server_records


class Flow:
    """An analyst on one version of the item page."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def take_next(self) -> None:
        self.page.click("form[action$='/queue/next/'] button")
        self.page.wait_for_load_state()


class Old(Flow):
    """Today's item page: one item-level form, drop-down lists, save goes back to the queue."""

    def assess(self, pk: int, kind: str) -> int:
        page = self.page
        if kind in ("known", "illegal", "mixed"):  # a page is classified as a whole
            page.check("input[name=verdict][value=baseline]")
            page.check("input[name=legal_limb][value=real_minor]")
            page.select_option("select[name=content_type]", "image")
            page.select_option("select[name=age_group]", "prepubescent")
            done = 1 + 1 + 2 + 2
        elif kind == "not_illegal":
            page.check("input[name=verdict][value=not_illegal]")
            page.select_option("select[name=reason]", "adult_pornography")
            done = 1 + 2
        else:
            page.check("input[name=verdict][value=unreachable]")
            page.select_option("select[name=reason]", "site_down")
            done = 1 + 2
        with page.expect_navigation():
            page.click("button:has-text('Save assessment')")
        return done + 1


class New(Flow):
    """The workbench: keys, one click per code the verdict asks for, save and take the next item."""

    def assess(self, pk: int, kind: str) -> int:
        page = self.page
        keys: list[str] = []
        clicks: list[str] = []
        if kind == "illegal":
            keys, clicks = ["1"], ["input[name$=-age_group][value=prepubescent]"]
        elif kind == "not_illegal":
            keys, clicks = ["3"], ["input[name$=-reason][value=adult_pornography]"]
        elif kind == "unreachable":
            keys = ["4"]  # the reason comes from the failed capture
        for key in keys:
            page.keyboard.press(key)
        for selector in clicks:
            page.check(f".media-card.current {selector}")
        done = len(keys) + len(clicks)
        if kind == "mixed":
            page.keyboard.press("1")
            page.check(".media-card.current input[name$=-age_group][value=prepubescent]")
            page.keyboard.press("j")
            page.keyboard.press("3")
            page.check(".media-card.current input[name$=-reason][value=adult_pornography]")
            done = 5
        with page.expect_navigation():
            page.keyboard.press("s")
        return done + 1


def summarise(actions: dict[int, int], records: dict[int, list[tuple[str, str, float]]], kinds: dict[int, str],
              wall: float) -> dict[str, Any]:
    from hotline.reports.models import Item

    try:
        from hotline.assessment.models import MediaAssessment

        media_rows = MediaAssessment.objects.count()
    except ImportError:
        media_rows = 0
    by_kind: dict[str, list[int]] = defaultdict(list)
    for pk, n in actions.items():
        by_kind[kinds[pk]].append(n)
    pages = sorted(s for rows in records.values() for method, path, s in rows
                   if method == "GET" and path.startswith("/items/"))
    server = [sum(s for _, _, s in rows) for rows in records.values()]
    verdicts: dict[str, int] = defaultdict(int)
    for verdict in Item.objects.values_list("verdict", flat=True):
        verdicts[verdict or "-"] += 1
    assessed = len(actions)
    if assessed != len(kinds):
        raise SystemExit(f"only {assessed} of {len(kinds)} items were assessed")
    return {
        "actions": {k: statistics.mean(by_kind[k]) for k in KINDS},
        "actions_per_item": sum(actions.values()) / assessed,
        "server_ms_per_item": 1000 * statistics.mean(server),
        "page_p95_ms": 1000 * pages[max(0, int(len(pages) * 0.95) - 1)],
        "page_median_ms": 1000 * statistics.median(pages),
        "wall_s": wall,
        "verdicts": dict(verdicts),
        "media_rows": media_rows,
    }


if __name__ == "__main__":
    main()
