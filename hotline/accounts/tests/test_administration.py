"""The administrator's pages: users and API clients, each change audited and behind re-authentication."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import ApiClient, Role, TOTPDevice, User
from hotline.accounts.services import (
    AccountError,
    deactivate_user,
    is_locked,
    issue_api_client,
    register_failure,
    set_role,
)
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, Actor
from hotline.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _events(action: str, by: User) -> int:
    return AuditEvent.objects.filter(action=action, actor_user_id=by.pk).count()


def test_an_administrator_creates_a_user_with_a_one_time_password_shown_once(
        login: Callable[[User], Client], admin_user: User) -> None:
    client = login(admin_user)
    response = client.post(reverse("accounts:admin_user_new"),
                           {"username": "nina", "email": "nina@hotline.example", "role": Role.ANALYST})
    assert response.status_code == 200
    password = response.context["password"]
    nina = User.objects.get(username="nina")
    assert nina.role == Role.ANALYST and nina.check_password(password) and len(password) >= 16
    assert not nina.is_staff and not nina.is_superuser  # a role never opens Django's admin
    assert _events("user.created", admin_user) == 1
    again = client.post(reverse("accounts:admin_user_new"), {"username": "NINA", "role": Role.ANALYST})
    assert again.status_code == 200 and "A user with this name exists." in again.content.decode()


def test_each_change_asks_for_password_and_code_again_after_a_while(
        login: Callable[[User], Client], admin_user: User, analyst: User) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = login(admin_user)
    url = reverse("accounts:admin_user_role", kwargs={"pk": analyst.pk})
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        response = client.post(url, {"role": Role.SENIOR_ANALYST},
                               HTTP_REFERER=reverse("accounts:admin_user", kwargs={"pk": analyst.pk}))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/confirm/")
        assert client.get(reverse("accounts:admin_user_new"))["Location"].startswith("/accounts/confirm/")
        assert client.get(reverse("accounts:admin_users")).status_code == 200  # reading needs no confirmation
    analyst.refresh_from_db()
    assert analyst.role == Role.ANALYST and _events("user.role_changed", admin_user) == 0


def test_an_administrator_changes_a_role_unlocks_and_resets_the_second_factor(
        login: Callable[[User], Client], admin_user: User, analyst: User, enrolled: Callable[[User], User]) -> None:
    enrolled(analyst)
    now = timezone.now()
    for _ in range(5):
        register_failure(analyst, factor="password", now=now)
    assert is_locked(analyst, timezone.now())
    client = login(admin_user)
    page = client.get(reverse("accounts:admin_user", kwargs={"pk": analyst.pk})).content.decode()
    assert 'id="unlock-form"' in page and 'id="reset-form"' in page
    client.post(reverse("accounts:admin_user_role", kwargs={"pk": analyst.pk}), {"role": Role.SENIOR_ANALYST})
    client.post(reverse("accounts:admin_user_unlock", kwargs={"pk": analyst.pk}))
    client.post(reverse("accounts:admin_user_reset_second_factor", kwargs={"pk": analyst.pk}))
    analyst.refresh_from_db()
    assert analyst.role == Role.SENIOR_ANALYST and not analyst.is_superuser
    assert not is_locked(analyst, timezone.now())
    assert not TOTPDevice.objects.filter(user=analyst).exists()
    for action in ("user.role_changed", "user.unlocked", "user.second_factor_reset"):
        assert _events(action, admin_user) == 1, action


def test_deactivating_ends_the_sessions_and_the_login(login: Callable[[User], Client], admin_user: User,
                                                      analyst: User) -> None:
    theirs = login(analyst)
    assert theirs.get(reverse("assessment:queue")).status_code == 200
    response = login(admin_user).post(reverse("accounts:admin_user_deactivate", kwargs={"pk": analyst.pk}))
    assert response.status_code == 302
    analyst.refresh_from_db()
    assert not analyst.is_active
    assert theirs.get(reverse("assessment:queue")).status_code == 302  # back to the login page
    assert not Client().login(username=analyst.username, password=PASSWORD)
    assert _events("user.deactivated", admin_user) == 1
    login(admin_user).post(reverse("accounts:admin_user_reactivate", kwargs={"pk": analyst.pk}))
    analyst.refresh_from_db()
    assert analyst.is_active and _events("user.reactivated", admin_user) == 1
    assert Session.objects.count() >= 1


def test_the_last_administrator_cannot_be_removed_nor_deactivate_themselves(admin_user: User) -> None:
    actor = Actor.of_user(admin_user)
    with pytest.raises(AccountError) as refused:
        set_role(admin_user, Role.MANAGER, actor=actor)
    assert refused.value.code == "last_admin"
    with pytest.raises(AccountError) as own:
        deactivate_user(admin_user, actor=actor)
    assert own.value.code == "self"
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN and admin_user.is_active


def test_a_refusal_is_a_translated_message_on_the_page(login: Callable[[User], Client], admin_user: User) -> None:
    client = login(admin_user)
    response = client.post(f"/nl{reverse('accounts:admin_user_role', kwargs={'pk': admin_user.pk})}",
                           {"role": Role.MANAGER}, follow=True)
    html = response.content.decode()
    assert "laatste actieve beheerder" in html
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_an_administrator_issues_and_revokes_an_api_client_and_sees_its_last_use(
        login: Callable[[User], Client], admin_user: User) -> None:
    client = login(admin_user)
    issued = client.post(reverse("accounts:admin_api_client_new"),
                         {"name": "Industry Y", "kind": "industry", "country": "be"})
    token = issued.context["token"]
    created = ApiClient.objects.get(name="Industry Y")
    assert created.country == "BE" and created.last_used_at is None
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get(reverse("api:report_status", kwargs={"reference": "HL-0000-0000-0000"})).status_code == 404
    created.refresh_from_db()
    assert created.last_used_at is not None
    listing = client.get(reverse("accounts:admin_api_clients")).content.decode()
    assert f"{created.last_used_at:%Y-%m-%d %H:%M}" in listing and token not in listing
    client.post(reverse("accounts:admin_api_client_revoke", kwargs={"pk": created.pk}))
    assert api.get(reverse("api:report_status", kwargs={"reference": "HL-0000-0000-0000"})).status_code == 401
    assert _events("apiclient.created", admin_user) == 1 and _events("apiclient.revoked", admin_user) == 1
    twice = client.post(reverse("accounts:admin_api_client_new"), {"name": "Industry Y", "kind": "industry"})
    assert twice.status_code == 400 and "A client with this name exists." in twice.content.decode()


def test_last_use_is_written_at_most_once_a_minute(db: None) -> None:
    from hotline.accounts.services import note_client_use

    client, _token = issue_api_client("Partner Z", "partner", actor=SYSTEM)
    start = timezone.now()
    note_client_use(client, now=start)
    note_client_use(client, now=start + timedelta(seconds=30))
    client.refresh_from_db()
    assert client.last_used_at == start
    note_client_use(client, now=start + timedelta(minutes=2))
    client.refresh_from_db()
    assert client.last_used_at == start + timedelta(minutes=2)


def test_a_missing_user_is_the_styled_404(login: Callable[[User], Client], admin_user: User) -> None:
    response = login(admin_user).get(reverse("accounts:admin_user", kwargs={"pk": 999999}))
    assert response.status_code == 404 and "main" in response.content.decode()


def test_djangos_admin_refuses_an_administrator_who_is_not_a_superuser(
        login: Callable[[User], Client], admin_user: User, superuser: Any) -> None:
    assert login(superuser).get(reverse("admin:index")).status_code == 200
    User.objects.filter(pk=admin_user.pk).update(is_superuser=False, is_staff=True)
    admin_user.refresh_from_db()
    assert login(admin_user).get(reverse("admin:index")).status_code != 200
