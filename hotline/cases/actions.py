"""The audit actions of case files (stored values: never change them)."""

from __future__ import annotations

from typing import Final

OPENED: Final = "cases.opened"
ITEM_ADDED: Final = "cases.item_added"
ITEM_REMOVED: Final = "cases.item_removed"
CLOSED: Final = "cases.closed"
REOPENED: Final = "cases.reopened"
REFERRED: Final = "cases.referred"
OUTCOME_RECORDED: Final = "cases.outcome_recorded"
OUTCOMES_IMPORTED: Final = "cases.outcomes_imported"
