"""The audit actions of tracing: one constant per event the services record (values are stored; never change one)."""

from __future__ import annotations

from typing import Final

ITEM_TRACED: Final = "item.traced"
ITEM_TRACE_FAILED: Final = "item.trace_failed"
ITEM_TRACE_REQUESTED: Final = "item.trace_requested"
ITEM_ORIGIN_RECORDED: Final = "item.origin_recorded"

PROVIDER_CREATED: Final = "provider.created"
PROVIDER_UPDATED: Final = "provider.updated"
PROVIDER_IMPORTED: Final = "provider.imported"
PROVIDER_CREATED_FROM_RDAP: Final = "provider.created_from_rdap"
CONTACT_CREATED_FROM_RDAP: Final = "contact.created_from_rdap"
