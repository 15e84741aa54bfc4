"""The retention pages: the plan for managers and administrators, holds for police liaison and admins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.evidence.models import Media
from hotline.reports.models import Item
from hotline.retention.models import Hold
from hotline.retention.services import place_hold
from hotline.retention.tests.conftest import Settle, assess

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


def test_the_plan_page_lists_every_class_with_its_duration_and_counts(
        login: Login, manager: User, settled: Settle, media_of: Callable[..., Media]) -> None:
    media_of(settled("not_illegal"))  # settled in 2030: due later than any week shown
    page = login(manager).get(reverse("retention:plan")).content.decode()
    for text in ("Captured media files", "<code>media</code>", "90 days", "Reporter contact data", "180 days",
                 "Audit events", "never deleted", "Previews and thumbnails", "forever"):
        assert text in page, text


def test_the_plan_page_is_closed_to_everyone_else(login: Login, analyst: User, police: User) -> None:
    for user in (analyst, police):
        assert login(user).get(reverse("retention:plan")).status_code == 403


def test_a_police_liaison_places_and_releases_a_hold_on_an_illegal_item(
        login: Login, police: User, make_item: Callable[..., Item]) -> None:
    item = assess(make_item(), "baseline", at=make_item().first_reported_at)
    client = login(police)

    response = client.post(reverse("retention:place"), {"object_type": "item", "object_id": item.pk,
                                                        "reason": "Investigation 2030/17"}, follow=True)
    hold = Hold.objects.get()
    assert (hold.object_id, hold.placed_by, hold.reason) == (item.pk, police, "Investigation 2030/17")
    assert "Investigation 2030/17" in response.content.decode()

    client.post(reverse("retention:release", kwargs={"pk": hold.pk}), {"reason": "Case closed"})
    hold.refresh_from_db()
    assert hold.released_by == police and hold.release_reason == "Case closed"


def test_a_police_liaison_cannot_hold_an_item_they_may_not_see(
        login: Login, police: User, admin_user: User, make_item: Callable[..., Item]) -> None:
    unassessed = make_item()
    response = login(police).post(reverse("retention:place"), {
        "object_type": "item", "object_id": unassessed.pk, "reason": "why"}, follow=True)
    assert not Hold.objects.exists() and "object_id" in response.content.decode()
    hold = place_hold("item", unassessed.pk, reason="admin hold", user=admin_user)
    refused = login(police).post(reverse("retention:release", kwargs={"pk": hold.pk}), {"reason": "x"})
    assert refused.status_code == 404  # the same as a hold that does not exist: no oracle
    hold.refresh_from_db()
    assert hold.is_active


def test_a_hold_without_reason_is_refused_naming_the_field(login: Login, admin_user: User,
                                                           make_item: Callable[..., Item]) -> None:
    response = login(admin_user).post(reverse("retention:place"), {
        "object_type": "item", "object_id": make_item().pk, "reason": ""}, follow=True)
    assert not Hold.objects.exists() and "reason: This field is required." in response.content.decode()


def test_managers_read_holds_but_cannot_place_them(login: Login, manager: User, admin_user: User,
                                                  make_item: Callable[..., Item]) -> None:
    item = make_item()
    place_hold("item", item.pk, reason="Court order 9", user=admin_user)
    client = login(manager)
    page = client.get(reverse("retention:holds")).content.decode()
    assert "Court order 9" in page and reverse("retention:place") not in page
    assert client.post(reverse("retention:place"), {"object_type": "item", "object_id": item.pk,
                                                    "reason": "x"}).status_code == 403


def test_released_holds_show_on_request(login: Login, admin_user: User, make_item: Callable[..., Item],
                                        settings: Any) -> None:
    from hotline.retention.services import release_hold

    hold = place_hold("item", make_item().pk, reason="Old order", user=admin_user)
    release_hold(hold, user=admin_user, reason="Lifted")
    client = login(admin_user)
    assert "Old order" not in client.get(reverse("retention:holds")).content.decode()
    assert "Lifted" in client.get(reverse("retention:holds") + "?show=all").content.decode()
