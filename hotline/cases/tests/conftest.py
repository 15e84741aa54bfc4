from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM, Actor
from hotline.cases.models import Case
from hotline.cases.services import open_case
from hotline.partners.models import PoliceContact
from hotline.reports.models import Item, ItemStatus

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def assessed(make_item: Callable[..., Item]) -> Callable[..., Item]:
    """An item assessed with `verdict` (set directly: the assessment workflow has its own tests)."""

    def make(verdict: str = "baseline", url: str | None = None, at: datetime | None = None) -> Item:
        item = make_item(url)
        fields = item.transition(ItemStatus.ASSESSED, now=at or timezone.now())
        item.verdict = verdict
        item.save(update_fields=[*fields, "verdict"])
        return item

    return make


@pytest.fixture
def unit(db: None) -> PoliceContact:
    return PoliceContact.objects.create(name="National unit", country="BE", kind="national",
                                        email="unit@police.example")


@pytest.fixture
def make_case(analyst: User) -> Callable[..., Case]:
    def make(items: list[Item], *, title: str = "Gallery site", kind: str = "same_site", now: datetime = NOW,
             actor: Actor | None = None) -> Case:
        return open_case(title, kind, items, actor=actor or Actor.of_user(analyst), now=now)

    return make


@pytest.fixture
def system() -> Actor:
    return SYSTEM


def errors_of(batch: Any) -> list[tuple[int, str]]:
    return [(e["line"], e["field"]) for e in batch.errors]


@pytest.fixture
def client_for(login: Callable[[User], Any]) -> Callable[[User], Any]:
    """A test client logged in as `user`, second factor done: the shared `login` fixture."""
    return login


@pytest.fixture(autouse=True)
def _english_after_each_test() -> Any:
    """A request under /nl/ or /fr/ leaves its language active in the thread: reset it, so `reverse` and
    the labels of the next test are English again."""
    from django.utils import translation

    yield None
    translation.activate("en")
