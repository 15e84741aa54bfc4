"""The audit actions the assessment domain writes (stored in audit events: the values never change)."""

from __future__ import annotations

from typing import Final

ITEM_CLAIMED: Final = "item.claimed"
ITEM_RELEASED: Final = "item.released"
ITEM_SKIPPED: Final = "item.skipped"
ITEM_CLAIM_EXPIRED: Final = "item.claim_expired"
ITEM_ASSESSED: Final = "item.assessed"
ITEM_ASSESSED_BY_INHERITANCE: Final = "item.assessed_by_inheritance"
ITEM_REVIEWED: Final = "item.reviewed"
ITEM_REVIEW_REQUESTED: Final = "item.review_requested"

# Reports without a URL: the report itself is received with reports.actions.REPORT_RECEIVED; its incident:
INCIDENT_RECEIVED: Final = "incident.received"
INCIDENT_IN_PROGRESS: Final = "incident.in_progress"
INCIDENT_REFERRED: Final = "incident.referred"
INCIDENT_CLOSED: Final = "incident.closed"
INCIDENT_ANNOTATED: Final = "incident.annotated"
INCIDENT_OPENED: Final = "incident.opened"
INCIDENT_SCREENSHOT_VIEWED: Final = "incident.screenshot_viewed"
