"""The connector's audit actions: the ``action`` of every event it records (stored values: never change them)."""

from __future__ import annotations

from typing import Final

CONTENT_IMPORTED: Final = "iccam.content_imported"
REFERENCE_WRITTEN: Final = "iccam.reference_written"
CODES_LOADED: Final = "iccam.codes_loaded"
PUSH_QUEUED: Final = "iccam.push_queued"
PUSH_SENT: Final = "iccam.push_sent"
PUSH_REFUSED: Final = "iccam.push_refused"
PUSH_UNCERTAIN: Final = "iccam.push_uncertain"
PUSH_RETRY: Final = "iccam.push_retry"
PUSH_FAILED: Final = "iccam.push_failed"
PUSH_LEASE_EXPIRED: Final = "iccam.push_lease_expired"
REPORT_CREATED: Final = "iccam.report_created"
