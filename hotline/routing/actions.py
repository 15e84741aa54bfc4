"""The audit actions routing records (``hotline.audit.services.record``). The values are stored in audit
events and named by viewers, statistics, docs and tests: never change one, add a new constant instead."""

from __future__ import annotations

from typing import Final

DECIDED: Final = "routing.decided"
REOPENED: Final = "routing.reopened"
REFERRAL_QUEUED: Final = "routing.referral_queued"
REFERRAL_SENT: Final = "routing.referral_sent"
REFERRAL_RETRY: Final = "routing.referral_retry"
REFERRAL_FAILED: Final = "routing.referral_failed"
POLICE_ANSWER: Final = "routing.police_answer"
PACKAGE_DOWNLOADED: Final = "routing.package_downloaded"
