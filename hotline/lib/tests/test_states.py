"""The one move function: a state changes only along its table, inside one conditional UPDATE."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models.functions import Coalesce

from hotline.lib.states import InvalidTransition, Transitions, move, sources
from hotline.reports.models import InvalidTransition as ReportsInvalidTransition
from hotline.reports.models import Item, ItemStatus

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TABLE: Transitions = {
    (ItemStatus.CAPTURED, ItemStatus.IN_REVIEW): "review_requested_at",
    (ItemStatus.UNREACHABLE, ItemStatus.IN_REVIEW): "review_requested_at",
    (ItemStatus.IN_REVIEW, ItemStatus.ASSESSED): None,
}


def _move(item: Item, to: str, **kwargs: Any) -> int:
    return move(Item.objects.filter(pk=item.pk), to, table=TABLE, now=NOW, field="status", **kwargs)


def test_it_lists_the_states_that_may_move_to_a_state() -> None:
    assert sources(TABLE, ItemStatus.IN_REVIEW) == [ItemStatus.CAPTURED, ItemStatus.UNREACHABLE]
    assert sources(TABLE, ItemStatus.CLOSED) == []


def test_it_moves_along_the_table_and_stamps_the_time(make_item: Callable[..., Item]) -> None:
    item = make_item()
    assert _move(item, ItemStatus.IN_REVIEW) == 1
    item.refresh_from_db()
    assert (item.status, item.review_requested_at) == (ItemStatus.IN_REVIEW, NOW)


def test_it_writes_the_other_changes_in_the_same_update(make_item: Callable[..., Item]) -> None:
    item = make_item()
    _move(item, ItemStatus.IN_REVIEW, review_requested_at=Coalesce("review_requested_at", "captured_at"),
          next_capture_at=None)
    item.refresh_from_db()
    assert item.review_requested_at == item.captured_at


def test_it_refuses_a_move_the_table_does_not_have(make_item: Callable[..., Item]) -> None:
    item = make_item()
    with pytest.raises(InvalidTransition):
        _move(item, ItemStatus.ASSESSED)  # captured -> assessed is not in the table
    with pytest.raises(InvalidTransition):
        _move(item, ItemStatus.CLOSED)  # nothing may move to closed
    assert Item.objects.get(pk=item.pk).status == ItemStatus.CAPTURED


def test_it_returns_zero_without_raising_when_not_strict(make_item: Callable[..., Item]) -> None:
    item = make_item()
    assert _move(item, ItemStatus.ASSESSED, strict=False) == 0
    assert Item.objects.get(pk=item.pk).status == ItemStatus.CAPTURED


def test_it_is_the_exception_the_reports_table_raises() -> None:
    assert ReportsInvalidTransition is InvalidTransition
