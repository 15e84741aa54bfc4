"""Object access for items: the one rule lives in ``reports.access`` (re-exported for the assessment views)."""

from __future__ import annotations

from hotline.reports.access import FULL_READERS, get_item_for, items_visible_to, visible_items

__all__ = ["FULL_READERS", "get_item_for", "items_visible_to", "visible_items"]
