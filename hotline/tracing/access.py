"""Who may see an item's traces: the item readers, and the police liaison for the items it may see (illegal
or referred to the police: the one item rule of ``reports.access``)."""

from __future__ import annotations

from hotline.accounts.models import Role
from hotline.reports.access import FULL_READERS, get_item_for, visible_items

TRACE_READERS = (*FULL_READERS, Role.POLICE_LIAISON)
TRACERS = (Role.ANALYST, Role.SENIOR_ANALYST)
DIRECTORY_READERS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER, Role.ADMIN)
DIRECTORY_EDITORS = (Role.MANAGER, Role.ADMIN)
__all__ = ["DIRECTORY_EDITORS", "DIRECTORY_READERS", "TRACERS", "TRACE_READERS", "get_item_for", "visible_items"]
