"""The audit actions the evidence domain writes (stored in audit events: the values never change)."""

from __future__ import annotations

from typing import Final

ITEM_CAPTURED: Final = "item.captured"
ITEM_CAPTURE_FAILED: Final = "item.capture_failed"
ITEM_UNREACHABLE: Final = "item.unreachable"
ITEM_CAPTURE_RETRY_REQUESTED: Final = "item.capture_retry_requested"
ITEM_MEDIA_VIEWED: Final = "item.media_viewed"
MEDIA_REVEALED: Final = "media.revealed"
SCREENSHOT_TAKEN: Final = "capture.screenshot_taken"
SCREENSHOT_FAILED: Final = "capture.screenshot_failed"
SCREENSHOT_REVEALED: Final = "capture.screenshot_revealed"
EVIDENCE_EXPORTED: Final = "evidence.exported"
STORE_KEYS_ROTATED: Final = "store.keys_rotated"
