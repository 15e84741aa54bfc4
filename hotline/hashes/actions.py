"""The audit actions the hashes domain writes (stored in audit events: the values never change)."""

from __future__ import annotations

from typing import Final

BANK_CREATED: Final = "bank.created"
BANK_IMPORTED: Final = "bank.imported"
BANK_ENTRIES_PROPOSED: Final = "bank.entries_proposed"
BANK_ENTRIES_ADDED: Final = "bank.entries_added"
BANK_ENTRIES_CONFIRMED: Final = "bank.entries_confirmed"
BANK_DEMOTED: Final = "bank.demoted"
ITEM_MATCHED: Final = "item.matched"
ENTRY_DISABLED: Final = "entry.disabled"
ENTRY_QUARANTINED: Final = "entry.quarantined"
ENTRY_QUARANTINE_CONFIRMED: Final = "entry.quarantine_confirmed"
ENTRY_VOTED: Final = "entry.voted"
MEDIA_INHERITANCE_OVERRULED: Final = "media.inheritance_overruled"
