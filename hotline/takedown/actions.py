"""The audit actions takedown records (``hotline.audit.services.record``). The values are stored in audit
events and named by viewers, statistics, docs and tests: never change one, add a new constant instead."""

from __future__ import annotations

from typing import Final

# the takedown of an item
OPENED: Final = "takedown.opened"
CONTACT_CHANGED: Final = "takedown.contact_changed"
NO_CONTACT: Final = "takedown.no_contact"
ESCALATED: Final = "takedown.escalated"
STILL_ONLINE: Final = "takedown.still_online"
MISS: Final = "takedown.miss"
REMOVED: Final = "takedown.removed"
REAPPEARED: Final = "takedown.reappeared"
PROVIDER_REPORTS_REMOVAL: Final = "takedown.provider_reports_removal"
# the item itself, closed by a confirmed removal and re-opened by a re-upload
ITEM_CLOSED: Final = "item.closed"
ITEM_REOPENED: Final = "item.reopened"

# notices
NOTICE_SENT: Final = "takedown.notice_sent"
NOTICE_RETRY: Final = "takedown.notice_retry"
NOTICE_FAILED: Final = "takedown.notice_failed"
NOTICE_LEASE_EXPIRED: Final = "takedown.notice_lease_expired"
NOTICE_CANCELLED: Final = "takedown.notice_cancelled"
NOTICE_ITEM_DROPPED: Final = "takedown.notice_item_dropped"
NOTICE_ACKNOWLEDGED: Final = "takedown.notice_acknowledged"
NOTICE_DELIVERED: Final = "takedown.notice_delivered"
NOTICE_BOUNCED: Final = "takedown.notice_bounced"

# the directory (admin): sending policies and escalation contacts
CONTACT_POLICY_CREATED: Final = "takedown.contactpolicy_created"
CONTACT_POLICY_CHANGED: Final = "takedown.contactpolicy_changed"
CONTACT_POLICY_DELETED: Final = "takedown.contactpolicy_deleted"
ESCALATION_CONTACT_CREATED: Final = "takedown.escalationcontact_created"
ESCALATION_CONTACT_CHANGED: Final = "takedown.escalationcontact_changed"
ESCALATION_CONTACT_DELETED: Final = "takedown.escalationcontact_deleted"

# information requests
INFOREQUEST_CREATED: Final = "inforequest.created"
INFOREQUEST_ANSWERED: Final = "inforequest.answered"
INFOREQUEST_ESCALATED: Final = "inforequest.escalated"
INFOREQUEST_MESSAGE_SENT: Final = "inforequest.message_sent"
INFOREQUEST_MESSAGE_RETRY: Final = "inforequest.message_retry"
INFOREQUEST_MESSAGE_FAILED: Final = "inforequest.message_failed"
