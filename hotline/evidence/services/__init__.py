"""The evidence domain's verbs, each audited: capturing items (``capture``), viewing and revealing
(``viewing``), screenshots (``screenshots``), evidence packages (``export``) and the store's master
keys (``keys``). Import the public names from here."""

from __future__ import annotations

from hotline.evidence.services.capture import (
    LEASE,
    RETRY_DELAYS,
    CaptureConfig,
    RetryRefused,
    capture_item,
    capture_items,
    claim_due,
    config_from_settings,
    retry_capture_now,
)
from hotline.evidence.services.export import collect, export_items
from hotline.evidence.services.keys import rotate_keys
from hotline.evidence.services.screenshots import record_screenshot, take_screenshots
from hotline.evidence.services.viewing import RevealRefused, note_media_viewed, reveal_media, reveal_screenshot

__all__ = [
    "LEASE",
    "RETRY_DELAYS",
    "CaptureConfig",
    "RetryRefused",
    "RevealRefused",
    "capture_item",
    "capture_items",
    "claim_due",
    "collect",
    "config_from_settings",
    "export_items",
    "note_media_viewed",
    "record_screenshot",
    "retry_capture_now",
    "reveal_media",
    "reveal_screenshot",
    "rotate_keys",
    "take_screenshots",
]
