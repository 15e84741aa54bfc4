"""The audit actions of statistics (stored values: never change them)."""

from __future__ import annotations

from typing import Final

ANNUAL_REPORT_REQUESTED: Final = "stats.annual_report_requested"
