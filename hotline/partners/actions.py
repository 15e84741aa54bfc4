"""The audit actions of the partner exchange and directory: one constant per event the services record
(values are stored; never change one)."""

from __future__ import annotations

from typing import Final

PARTNER_CREATED: Final = "partner.created"
PARTNER_UPDATED: Final = "partner.updated"
POLICE_CONTACT_CREATED: Final = "police_contact.created"
POLICE_CONTACT_UPDATED: Final = "police_contact.updated"

FORWARD_CREATED: Final = "forward.created"
FORWARD_RECEIVED: Final = "forward.received"  # the partner's ack of our forward
FORWARD_STATUS_RECEIVED: Final = "forward.status_received"

EXCHANGE_REQUEUED: Final = "exchange.requeued"
EXCHANGE_DELIVERED: Final = "exchange.delivered"
EXCHANGE_FAILED: Final = "exchange.failed"
EXCHANGE_STATUS_QUEUED: Final = "exchange.status_queued"
EXCHANGE_VERDICT_REPORTED: Final = "exchange.verdict_reported"
EXCHANGE_FORWARD_RECEIVED: Final = "exchange.forward_received"  # a partner's forward to us
