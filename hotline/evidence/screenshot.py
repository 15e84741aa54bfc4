"""Screenshots of captured pages, rendered from the capture's WARC in headless Chromium.

Nothing is fetched again: every request the browser makes is intercepted and answered only from
the WARC's response records, or refused; JavaScript is off, the viewport fixed, the time capped,
and the browser is also pointed at a dead proxy with DNS disabled, so a request that slipped past
the interception could not leave the machine either. The PNG is stored in the encrypted store
(``hotline.evidence.services.screenshots``; the worker step is ``hotline.evidence.steps.screenshot_step``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

from django.conf import settings
from warcio.archiveiterator import ArchiveIterator

from hotline.evidence.models import Capture

log = logging.getLogger("hotline.evidence")
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_SECONDS = 20.0
LEASE = timedelta(minutes=5)
# Captures rendered per browser launch (the launch costs more than a page).
BATCH = 8
# A request the interception missed goes to this dead proxy, and no host name resolves.
BROWSER_ARGS = [
    "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-features=NetworkPrediction,PrefetchPrivacyChanges",
    "--dns-prefetch-disable",
]
# Response headers that would change how the stored body is read.
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "set-cookie", "link",
                    "refresh", "strict-transport-security", "alt-svc"}


class ScreenshotError(Exception):
    pass


class BrowserGone(ScreenshotError):
    """The browser itself went away before this page was rendered (the worker's service was stopped: Ctrl-C or
    the service manager signal every process of the group, Chromium too). Not the page's fault: tried again."""


@dataclass(frozen=True)
class Recorded:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Rendered:
    png: bytes
    answered: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def warc_responses(data: bytes) -> dict[str, Recorded]:
    """The response records of a WARC, by target URI (the first record for a URI wins)."""
    found: dict[str, Recorded] = {}
    for rec in ArchiveIterator(BytesIO(data)):
        if rec.rec_type != "response" or rec.http_headers is None:
            continue
        url = rec.rec_headers.get_header("WARC-Target-URI")
        if not url or url in found:
            continue
        headers = {k.lower(): v for k, v in rec.http_headers.headers if k.lower() not in _DROPPED_HEADERS}
        status = int(rec.http_headers.get_statuscode() or 200)
        found[url] = Recorded(status, headers, rec.content_stream().read())
    return found


def render(warc: bytes, url: str, *, browser: str, timeout: float = TIMEOUT_SECONDS) -> Rendered:
    """A PNG of ``url`` as its WARC shows it (see ``render_many``)."""
    result = render_many([(warc, url)], browser=browser, timeout=timeout)[0]
    if isinstance(result, ScreenshotError):
        raise result
    return result


def render_many(jobs: list[tuple[bytes, str]], *, browser: str,
                timeout: float = TIMEOUT_SECONDS) -> list[Rendered | ScreenshotError]:
    """Render each ``(warc, url)`` in its own fresh browser context of one browser launch. Runs
    Playwright in its own thread (its event loop must not share a thread with the ORM)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_render_all, jobs, browser, timeout).result()


def browser_args() -> list[str]:
    """Chromium's own sandbox stays on (the page is hostile), except as root, where Chromium
    cannot start with it: run the worker as an ordinary user in production."""
    return [*BROWSER_ARGS, "--no-sandbox"] if os.geteuid() == 0 else list(BROWSER_ARGS)


def _render_all(jobs: list[tuple[bytes, str]], browser: str, timeout: float) -> list[Rendered | ScreenshotError]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=browser, headless=True, args=browser_args(),
                                                  timeout=timeout * 1000)
            try:
                return _render_jobs(chromium, jobs, timeout)
            finally:
                with contextlib.suppress(PlaywrightError):
                    chromium.close()
    except PlaywrightError as exc:
        return [ScreenshotError(str(exc).splitlines()[0][:250])] * len(jobs)


def _render_jobs(chromium: Any, jobs: list[tuple[bytes, str]], timeout: float) -> list[Rendered | ScreenshotError]:
    """Each job in turn; once the browser has gone, this job and the rest are ``BrowserGone``."""
    from playwright.sync_api import Error as PlaywrightError

    results: list[Rendered | ScreenshotError] = []
    for warc, url in jobs:
        try:
            result = _render_one(chromium, warc, url, timeout)
        except PlaywrightError as exc:  # the browser's own calls (a new context): the page was not reached
            result = ScreenshotError(str(exc).splitlines()[0][:250])
        if isinstance(result, ScreenshotError) and not chromium.is_connected():
            gone = BrowserGone(f"the browser closed before the page was rendered ({result})"[:250])
            return results + [gone] * (len(jobs) - len(results))
        results.append(result)
    return results


def _render_one(chromium: Any, warc: bytes, url: str, timeout: float) -> Rendered | ScreenshotError:
    from playwright.sync_api import Error as PlaywrightError

    try:
        records = warc_responses(warc)
    except Exception as exc:  # a damaged WARC: this capture has no screenshot, the others still do
        return ScreenshotError(f"unreadable WARC: {exc}"[:250])
    if url not in records:
        return ScreenshotError("the WARC holds no response for the page")
    rendered = Rendered(b"")

    def answer(route: Any) -> None:
        wanted = route.request.url.split("#", 1)[0]
        found = records.get(wanted)
        if found is None:
            rendered.refused.append(wanted)
            route.abort("blockedbyclient")
            return
        rendered.answered.append(wanted)
        route.fulfill(status=found.status, headers=found.headers, body=found.body)

    context = chromium.new_context(java_script_enabled=False, viewport=VIEWPORT, service_workers="block",
                                   accept_downloads=False)
    try:
        context.set_default_timeout(timeout * 1000)
        context.route("**/*", answer)
        tab = context.new_page()
        tab.goto(url, wait_until="load", timeout=timeout * 1000)
        rendered.png = tab.screenshot(full_page=False, type="png", animations="disabled")
    except PlaywrightError as exc:
        return ScreenshotError(str(exc).splitlines()[0][:250])
    finally:
        context.close()
    return rendered


def browser_path() -> str:
    return str(getattr(settings, "HOTLINE_BROWSER", "") or "")


def enabled() -> bool:
    """Screenshots are on and the browser can be run (else hotline.W301 warns and none are taken)."""
    browser = browser_path()
    return bool(getattr(settings, "HOTLINE_SCREENSHOTS", False)) and bool(browser) and os.access(browser, os.X_OK)


def claim_due(now: datetime, limit: int) -> list[Capture]:
    """Lease up to ``limit`` captures whose screenshot is due (conditional UPDATEs, one row each)."""
    claimed: list[Capture] = []
    for capture in Capture.objects.screenshot_due(now).select_related("warc")[: limit * 2]:
        won = Capture.objects.filter(pk=capture.pk, screenshot_due_at=capture.screenshot_due_at).update(
            screenshot_due_at=now + LEASE)
        if won == 1:
            claimed.append(capture)
        if len(claimed) >= limit:
            break
    return claimed
