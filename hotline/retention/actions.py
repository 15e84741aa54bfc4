"""The audit actions of retention: one constant per event the services record (values are stored; never change one)."""

from __future__ import annotations

from typing import Final

HOLD_PLACED: Final = "retention.hold_placed"
HOLD_RELEASED: Final = "retention.hold_released"
PURGED: Final = "retention.purged"
AGE_REPORTED: Final = "retention.age_reported"
