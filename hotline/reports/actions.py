"""The audit actions of intake (stored values: never change them)."""

from __future__ import annotations

from typing import Final

REPORT_RECEIVED: Final = "report.received"
ITEM_CREATED: Final = "item.created"
ITEM_REPORT_ADDED: Final = "item.report_added"
