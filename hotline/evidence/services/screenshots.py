"""Screenshots of captured pages: render claimed captures from their WARC (``hotline.evidence.screenshot``)
and keep each PNG in the encrypted store, audited."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from hotline.audit.services import SYSTEM, record
from hotline.evidence import actions
from hotline.evidence.models import Capture
from hotline.evidence.screenshot import Rendered, ScreenshotError, browser_path, render_many
from hotline.evidence.store import get_blob_bytes, put_blob

log = logging.getLogger("hotline.evidence")


def take_screenshots(captures: list[Capture], *, now: datetime) -> None:
    """Render claimed captures with one browser launch and record each result (a failure is recorded
    on the capture and never touches the item)."""
    try:
        jobs = [(get_blob_bytes(c.warc) if c.warc else b"", c.final_url) for c in captures]
        results = render_many(jobs, browser=browser_path())
    except Exception as exc:  # whatever goes wrong, the captures stand and say why there is no image
        results = [ScreenshotError(f"{type(exc).__name__}: {exc}"[:250])] * len(captures)
    for capture, result in zip(captures, results, strict=True):
        if isinstance(result, ScreenshotError):
            log.warning("screenshot of capture %s failed: %s", capture.pk, result)
            record_screenshot(capture, None, str(result)[:300], now=now)
        else:
            record_screenshot(capture, result, "", now=now)


@transaction.atomic
def record_screenshot(capture: Capture, rendered: Rendered | None, error: str, *, now: datetime) -> None:
    """Store the rendered PNG (or say why there is none) on the capture; audited on its item."""
    blob = put_blob(rendered.png) if rendered is not None else None
    capture.screenshot, capture.screenshot_due_at, capture.screenshot_error = blob, None, error
    capture.save(update_fields=["screenshot", "screenshot_due_at", "screenshot_error"])
    after: dict[str, Any] = {"capture": capture.pk, "error": error} if blob is None else {
        "capture": capture.pk, "sha256": blob.sha256, "answered": len(rendered.answered) if rendered else 0,
        "refused": len(rendered.refused) if rendered else 0}
    record(SYSTEM, actions.SCREENSHOT_FAILED if blob is None else actions.SCREENSHOT_TAKEN,
           ("reports.item", capture.item_id), now=now, after=after)
