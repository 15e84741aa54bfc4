"""Screenshots of captured pages, rendered from the capture's WARC in headless Chromium.

Nothing is fetched again: every request the browser makes is intercepted and answered only from
the WARC's response records, or refused; JavaScript is off, the viewport fixed, the time capped,
and the browser is also pointed at a dead proxy with DNS disabled, so a request that slipped past
the interception could not leave the machine either. The PNG is stored in the encrypted store.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from warcio.archiveiterator import ArchiveIterator

from hotline.audit.services import SYSTEM, record
from hotline.evidence.models import Capture
from hotline.evidence.store import get_blob_bytes, put_blob

log = logging.getLogger("hotline.evidence")
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_SECONDS = 20.0
LEASE = timedelta(minutes=5)
# A request the interception missed goes to this dead proxy, and no host name resolves.
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
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
    """A PNG of ``url`` as its WARC shows it. Runs Playwright in its own thread (its event loop must
    not share a thread with the ORM)."""
    records = warc_responses(warc)
    if url not in records:
        raise ScreenshotError("the WARC holds no response for the page")
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_render, records, url, browser, timeout).result()


def _render(records: dict[str, Recorded], url: str, browser: str, timeout: float) -> Rendered:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

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

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=browser, headless=True, args=BROWSER_ARGS,
                                                  timeout=timeout * 1000)
            try:
                context = chromium.new_context(java_script_enabled=False, viewport=VIEWPORT,  # type: ignore[arg-type]
                                               service_workers="block", accept_downloads=False,
                                               bypass_csp=False, offline=False)
                context.set_default_timeout(timeout * 1000)
                context.route("**/*", answer)
                tab = context.new_page()
                tab.goto(url, wait_until="load", timeout=timeout * 1000)
                rendered.png = tab.screenshot(full_page=False, type="png", animations="disabled")
                context.close()
            finally:
                chromium.close()
    except PlaywrightError as exc:
        raise ScreenshotError(str(exc).splitlines()[0][:250]) from exc
    return rendered


def browser_path() -> str:
    return str(getattr(settings, "HOTLINE_BROWSER", "") or "")


def enabled() -> bool:
    """Screenshots are on and the browser can be run (else hotline.W301 warns and none are taken)."""
    browser = browser_path()
    return bool(getattr(settings, "HOTLINE_SCREENSHOTS", False)) and bool(browser) and os.access(browser, os.X_OK)


def claim_due(now: datetime) -> Capture | None:
    """Lease one capture whose screenshot is due (a conditional UPDATE that must hit one row)."""
    for capture in Capture.objects.screenshot_due(now)[:5]:
        won = Capture.objects.filter(pk=capture.pk, screenshot_due_at=capture.screenshot_due_at).update(
            screenshot_due_at=now + LEASE)
        if won == 1:
            return capture
    return None


def screenshot_step(*, now: datetime | None = None) -> bool:
    """Worker step: render the screenshot of one captured page. Returns whether there was one.

    Off (and nothing claimed) unless screenshots are enabled and a browser is configured (system
    check hotline.W301). A failure is recorded on the capture, never on the item or its capture."""
    if not enabled():
        return False
    now = now or timezone.now()
    capture = claim_due(now)
    if capture is None:
        return False
    take_screenshot(capture, now=now)
    return True


def take_screenshot(capture: Capture, *, now: datetime) -> None:
    try:
        if capture.warc is None:
            raise ScreenshotError("the capture has no WARC")
        rendered = render(get_blob_bytes(capture.warc), capture.final_url, browser=browser_path())
    except Exception as exc:  # whatever goes wrong, the capture stands and says why there is no image
        log.warning("screenshot of capture %s failed: %s", capture.pk, exc)
        _record(capture, None, f"{type(exc).__name__}: {exc}"[:300], now)
        return
    _record(capture, rendered, "", now)


@transaction.atomic
def _record(capture: Capture, rendered: Rendered | None, error: str, now: datetime) -> None:
    blob = put_blob(rendered.png) if rendered is not None else None
    capture.screenshot, capture.screenshot_due_at, capture.screenshot_error = blob, None, error
    capture.save(update_fields=["screenshot", "screenshot_due_at", "screenshot_error"])
    after: dict[str, Any] = {"capture": capture.pk, "error": error} if blob is None else {
        "capture": capture.pk, "sha256": blob.sha256, "answered": len(rendered.answered) if rendered else 0,
        "refused": len(rendered.refused) if rendered else 0}
    record(SYSTEM, "capture.screenshot_failed" if blob is None else "capture.screenshot_taken",
           ("reports.item", capture.item_id), now=now, after=after)
