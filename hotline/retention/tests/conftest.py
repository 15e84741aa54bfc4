"""Retention fixtures: items settled at a chosen moment (verdict, removal, closing), with media."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline.accounts.models import User
from hotline.evidence.models import Media
from hotline.reports.models import Item, ItemStatus
from hotline.takedown.models import Takedown

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

Settle = Callable[..., Item]


def assess(item: Item, verdict: str, at: datetime) -> Item:
    """Test set-up: the assessment workflow has its own tests; only the facts retention reads are set."""
    fields = item.transition(ItemStatus.ASSESSED, now=at)
    item.verdict = verdict
    item.save(update_fields=[*fields, "verdict"])
    return item


@pytest.fixture
def settled(make_item: Callable[..., Item]) -> Settle:
    """An item settled at ``at``: ``how`` is "not_illegal", "removed" (takedown) or "closed"."""

    def make(how: str = "not_illegal", at: datetime = T0, url: str | None = None) -> Item:
        item = make_item(url)
        if how == "not_illegal":
            return assess(item, "not_illegal", at)
        assess(item, "baseline", at - DAY)
        if how == "removed":
            Takedown.objects.create(item=item, state="removed", state_changed_at=at, opened_at=at - DAY,
                                    reported_at=item.first_reported_at, removed_at=at)
        elif how == "closed":
            item.save(update_fields=item.transition(ItemStatus.CLOSED, now=at))
        return item

    return make


@pytest.fixture
def illegal_open(make_item: Callable[..., Item]) -> Callable[[], Item]:
    """An illegal item still online: its evidence is never due."""

    def make() -> Item:
        return assess(make_item(), "baseline", T0 - DAY)

    return make


@pytest.fixture
def media_of(make_media: Callable[..., Media]) -> Callable[..., Media]:
    counter = iter(range(100, 1_000_000))

    def make(item: Item, seed: int | None = None) -> Media:
        return make_media(item, seed=seed if seed is not None else next(counter))

    return make


@pytest.fixture
def holder(police: User) -> User:
    return police


def audit_after(action: str) -> list[dict[str, Any]]:
    from hotline.audit.models import AuditEvent

    return [event.after or {} for event in AuditEvent.objects.filter(action=action).order_by("seq")]
