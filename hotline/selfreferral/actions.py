"""The audit actions the self-referral domain writes (stored in audit events: the values never change)."""

from __future__ import annotations

from typing import Final

# The self-referral bank, created on first use (the same action as any bank's creation).
BANK_CREATED: Final = "bank.created"
SELFREFERRAL_SUBMITTED: Final = "selfreferral.submitted"
SELFREFERRAL_CONFIRMED: Final = "selfreferral.confirmed"
SELFREFERRAL_REJECTED: Final = "selfreferral.rejected"
SELFREFERRAL_WITHDRAWN: Final = "selfreferral.withdrawn"
SELFREFERRAL_FOUND: Final = "selfreferral.found"
