"""Objects the access matrix needs for retention routes (core/tests/test_access_matrix.py)."""

from __future__ import annotations

from hotline.accounts.models import Role, User
from hotline.reports.models import Item
from hotline.retention.services import place_hold


def access_object(route: str, item: Item) -> int:
    """``retention:release`` takes a hold: one on the illegal item, placed by the administrator persona."""
    admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
    assert admin is not None, "the personas fixture creates the administrator"
    return place_hold("item", item.pk, reason=f"access matrix: {route}", user=admin).pk
