from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import Role, User
from hotline.accounts.services import create_user
from hotline.accounts.tests.conftest import code
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.conftest import PASSWORD
from hotline.reports.models import Item

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reveal_after_ten_minutes_asks_for_password_and_code_then_returns(
    analyst: User, signed_in: Callable[[User], Client], make_item: Callable[..., Item], make_media: Any
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = signed_in(analyst)
    item = make_item()
    media = make_media(item)
    page = reverse("assessment:item", kwargs={"pk": item.pk})
    reveal = reverse("evidence:reveal", kwargs={"pk": media.pk})
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        asked = client.post(reveal, HTTP_REFERER=f"http://testserver{page}")
        assert asked["Location"] == f"/accounts/confirm/?next={page.replace('/', '%2F')}"
        assert not AuditEvent.objects.filter(action="media.revealed").exists()
        assert client.get(asked["Location"]).status_code == 200
        back = client.post(asked["Location"], {"password": PASSWORD, "code": code()})
        assert back["Location"] == page
        done = client.post(reveal, HTTP_REFERER=f"http://testserver{page}")
        assert done["Location"] == f"{page}#media-{media.pk}"
    assert AuditEvent.objects.filter(action="media.revealed", object_id=str(media.pk)).count() == 1
    assert AuditEvent.objects.filter(action="user.second_factor_passed", after__purpose="reauth").count() == 1


def test_a_fresh_login_reveals_without_asking(
    analyst: User, signed_in: Callable[[User], Client], make_item: Callable[..., Item], make_media: Any
) -> None:
    client = signed_in(analyst)
    media = make_media(make_item())
    response = client.post(reverse("evidence:reveal", kwargs={"pk": media.pk}))
    assert "#media-" in response["Location"]


def test_a_wrong_password_or_code_does_not_confirm_and_counts(
    analyst: User, signed_in: Callable[[User], Client]
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = signed_in(analyst)
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        bad_password = client.post("/accounts/confirm/?next=/queue/", {"password": "nope-nope-nope", "code": code()})
        bad_code = client.post("/accounts/confirm/?next=/queue/", {"password": PASSWORD, "code": "99999"})
        for response in (bad_password, bad_code):
            assert response.status_code == 200 and "The password or the code is not valid" in response.content.decode()
    assert AuditEvent.objects.filter(action="user.reauth_failed").count() == 1
    assert AuditEvent.objects.filter(action="user.second_factor_failed", after__purpose="reauth").count() == 1
    assert analyst.lockout.failures == 2


@pytest.mark.parametrize("wanted", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:x",
                                    "http://testserver.evil.example/"])
def test_it_returns_only_to_pages_of_this_site(
    wanted: str, analyst: User, signed_in: Callable[[User], Client]
) -> None:
    client = signed_in(analyst)
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        response = client.post("/accounts/confirm/", {"password": PASSWORD, "code": code(), "next": wanted})
    assert response["Location"] == "/"


def test_a_role_change_in_the_admin_needs_recent_authentication(
    superuser: User, analyst: User, signed_in: Callable[[User], Client]
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = signed_in(superuser)
    url = reverse("admin:accounts_user_change", args=[analyst.pk])
    form = {"username": "ana", "first_name": "", "last_name": "", "email": "", "is_active": "on",
            "role": Role.ANALYST, "organisation": "Hotline BE"}
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert client.post(url, form)["Location"] == reverse("admin:accounts_user_changelist")  # no role change
        asked = client.post(url, {**form, "role": Role.SENIOR_ANALYST})
        assert asked["Location"] == f"/accounts/confirm/?next={url.replace('/', '%2F')}"
        analyst.refresh_from_db()
        assert (analyst.role, analyst.organisation) == (Role.ANALYST, "Hotline BE")
        assert client.post(asked["Location"], {"password": PASSWORD, "code": code()})["Location"] == url
        assert client.post(url, {**form, "role": Role.SENIOR_ANALYST}).status_code == 302
    analyst.refresh_from_db()
    assert analyst.role == Role.SENIOR_ANALYST
    event = AuditEvent.objects.get(action="user.role_changed")
    assert event.actor_label == "user:adam" and event.after == {"role": Role.SENIOR_ANALYST}


def test_the_admin_has_no_password_only_login(admin_user: User) -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/admin/"


def test_passwords_follow_the_policy(db: None) -> None:
    for weak in ("short-pw-1", "123456789012345", "password1234", "ana-the-analyst"):
        with pytest.raises(ValidationError):
            create_user("ana-the-analyst", weak, Role.ANALYST, actor=SYSTEM)
    assert not User.objects.exists()
    assert create_user("ana", "lantern-orbit-meadow-7", Role.ANALYST, actor=SYSTEM).check_password(
        "lantern-orbit-meadow-7")


def test_setting_someone_elses_password_in_the_admin_needs_recent_authentication(
    superuser: User, analyst: User, signed_in: Callable[[User], Client]
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = signed_in(superuser)
    url = reverse("admin:auth_user_password_change", args=[analyst.pk])
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert client.get(url)["Location"] == f"/accounts/confirm/?next={url.replace('/', '%2F')}"
