"""Screenshots of captured pages: render claimed captures from their WARC (``hotline.evidence.screenshot``)
and keep each PNG in the encrypted store, audited."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from hotline.audit.services import SYSTEM, record
from hotline.evidence import actions
from hotline.evidence.models import Capture
from hotline.evidence.screenshot import BrowserGone, Rendered, ScreenshotError, browser_path, render_many
from hotline.evidence.store import get_blob_bytes, put_blob

log = logging.getLogger("hotline.evidence")
# A capture whose browser went away is tried again after RETRY_AFTER, up to BROWSER_ATTEMPTS times in all (a page
# that kills the browser every time must not be retried for ever); ``screenshot_browser_gone`` counts them.
BROWSER_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=1)
_GONE = "browser closed, to be tried again"


def take_screenshots(captures: list[Capture], *, now: datetime) -> None:
    """Render claimed captures with one browser launch and record each result (a failure is recorded
    on the capture and never touches the item). A capture whose browser went away (the service stopped under
    it) is not a failure: it is due again a minute later, up to ``BROWSER_ATTEMPTS`` times."""
    try:
        jobs = [(get_blob_bytes(c.warc) if c.warc else b"", c.final_url) for c in captures]
        results = render_many(jobs, browser=browser_path())
    except Exception as exc:  # Playwright's driver itself went (a failed launch is a ScreenshotError inside)
        results = [BrowserGone(f"{type(exc).__name__}: {exc}"[:250])] * len(captures)
    for capture, result in zip(captures, results, strict=True):
        capture.screenshot_browser_gone += isinstance(result, BrowserGone)
        gone = capture.screenshot_browser_gone
        if isinstance(result, BrowserGone) and gone < BROWSER_ATTEMPTS:
            log.info("screenshot of capture %s: %s", capture.pk, result)
            Capture.objects.filter(pk=capture.pk).update(
                screenshot_due_at=now + RETRY_AFTER, screenshot_browser_gone=gone,
                screenshot_error=f"{_GONE} (attempt {gone} of {BROWSER_ATTEMPTS})")
        elif isinstance(result, ScreenshotError):
            log.warning("screenshot of capture %s failed: %s", capture.pk, result)
            record_screenshot(capture, None, str(result)[:300], now=now)
        else:
            record_screenshot(capture, result, "", now=now)


@transaction.atomic
def record_screenshot(capture: Capture, rendered: Rendered | None, error: str, *, now: datetime) -> None:
    """Store the rendered PNG (or say why there is none) on the capture; audited on its item."""
    blob = put_blob(rendered.png) if rendered is not None else None
    capture.screenshot, capture.screenshot_due_at, capture.screenshot_error = blob, None, error
    capture.save(update_fields=["screenshot", "screenshot_due_at", "screenshot_error", "screenshot_browser_gone"])
    after: dict[str, Any] = {"capture": capture.pk, "error": error} if blob is None else {
        "capture": capture.pk, "sha256": blob.sha256, "answered": len(rendered.answered) if rendered else 0,
        "refused": len(rendered.refused) if rendered else 0}
    record(SYSTEM, actions.SCREENSHOT_FAILED if blob is None else actions.SCREENSHOT_TAKEN,
           ("reports.item", capture.item_id), now=now, after=after)
