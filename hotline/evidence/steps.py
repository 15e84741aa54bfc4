"""The evidence domain's worker steps (``HOTLINE_WORKER_STEPS``): claim due work, call the services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.evidence import screenshot
from hotline.evidence.services import capture as capturing
from hotline.evidence.services.capture import CaptureConfig, config_from_settings
from hotline.evidence.services.screenshots import take_screenshots


def capture_step(
    *, now: datetime | None = None, config: CaptureConfig | None = None, concurrency: int = 8
) -> bool:
    """Worker step: capture the due items, several at a time. Returns whether there were any."""
    now = now or timezone.now()
    items = capturing.claim_due(now, concurrency)
    if not items:
        return False  # the fetch policy is read from the settings only when there is work (most calls: none)
    capturing.capture_items(items, config=config or config_from_settings(), now=now, concurrency=concurrency)
    return True


def screenshot_step(*, now: datetime | None = None, batch: int = screenshot.BATCH) -> bool:
    """Worker step: render the screenshots of a few captured pages with one browser launch.
    Returns whether there were any.

    Off (and nothing claimed) unless screenshots are enabled and a browser is configured (system
    check hotline.W301). A failure is recorded on the capture and never touches the item."""
    if not screenshot.enabled():
        return False
    now = now or timezone.now()
    captures = screenshot.claim_due(now, batch)
    if not captures:
        return False
    take_screenshots(captures, now=now)
    return True
