"""The administrator's pages in a real browser (Chromium via Playwright, on loopback): make a user, change a
role, unlock, reset a second factor, deactivate (after confirming password and code again), issue and revoke
an API client token; Django's admin refuses an administrator who is not a superuser.

Screenshots: ``artifacts/screenshots/admin-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from hotline.accounts import otp
from hotline.accounts.models import ApiClient, Role, TOTPDevice, User
from hotline.accounts.services import is_locked, register_failure
from hotline.audit.models import AuditEvent
from hotline.conftest import PASSWORD
from hotline.core.tests.conftest import browser, new_tab, page, save_shot  # noqa: F401 - the shared browser fixtures
from hotline.core.tests.test_browser_flows import SECRET, enrolled, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def shot(tab: Any, name: str) -> None:
    save_shot(tab, f"admin-{name}", full_page=True)


def _done(action: str, by: User) -> int:
    return AuditEvent.objects.filter(action=action, actor_user_id=by.pk).count()


def test_the_administrator_manages_users_in_the_product(page: Any, admin_user: User, analyst: User,  # noqa: F811
                                                          manager: User) -> None:
    enrolled(analyst)
    for _ in range(5):
        register_failure(analyst, factor="password", now=timezone.now())
    sign_in(page, enrolled(admin_user))
    page.click("summary:has-text('Administration')")
    page.click("header.top a:has-text('Users')")
    page.wait_for_url("**/accounts/users/")
    assert page.locator("tr[data-user=ana]").inner_text().count("locked") == 1
    shot(page, "1-users")

    page.click("#new-user")
    page.fill("#id_username", "nina")
    page.fill("#id_email", "nina@hotline.example")
    page.select_option("#id_role", Role.POLICE_LIAISON)
    page.click("#new-user-form button[type=submit]")
    password = page.locator("#one-time-password").inner_text()
    assert User.objects.get(username="nina").check_password(password)
    shot(page, "2-user-created")

    page.goto(f"/accounts/users/{analyst.pk}/")
    page.select_option("#role-form select", Role.SENIOR_ANALYST)
    page.click("#role-form button[type=submit]")
    page.wait_for_selector(".messages .success")
    page.click("#unlock-form button[type=submit]")
    page.wait_for_selector(".messages .success")
    page.click("#reset-form button[type=submit]")
    page.wait_for_selector(".messages .success")
    assert "not set up" in page.locator("#second-factor-state").inner_text()
    shot(page, "3-user")
    analyst.refresh_from_db()
    assert analyst.role == Role.SENIOR_ANALYST and not is_locked(analyst, timezone.now())
    assert not TOTPDevice.objects.filter(user=analyst).exists()

    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=True):  # the login is now too old
        page.goto(f"/accounts/users/{manager.pk}/")
        page.click("#deactivate-form button[type=submit]")
        page.wait_for_url("**/accounts/confirm/**")
        manager.refresh_from_db()
        assert manager.is_active  # nothing changed before the confirmation
        shot(page, "4-reauth")
        page.fill("#reauth input[name=password]", PASSWORD)
        page.fill("#reauth input[name=code]", otp.code_at(SECRET, timezone.now()))
        page.click("#reauth button[type=submit]")
        page.wait_for_url(f"**/accounts/users/{manager.pk}/")
        page.click("#deactivate-form button[type=submit]")
        page.wait_for_selector(".messages .success")
    manager.refresh_from_db()
    assert not manager.is_active
    for action in ("user.created", "user.role_changed", "user.unlocked", "user.second_factor_reset",
                   "user.deactivated"):
        assert _done(action, admin_user) == 1, action

    page.goto("/admin/")
    assert page.locator("#site-name").count() == 0  # Django's admin is for superusers only


def test_the_administrator_issues_and_revokes_an_api_token(page: Any, admin_user: User) -> None:  # noqa: F811
    sign_in(page, enrolled(admin_user))
    page.goto("/nl/accounts/api-clients/")
    page.fill("#id_name", "Industry partner (simulated)")
    page.select_option("#id_kind", "industry")
    page.click("#new-client-form button[type=submit]")
    token = page.locator("#token").inner_text()
    assert token.startswith("hl_") and "Token uitgereikt" in page.locator("h1").inner_text()
    shot(page, "5-token-nl")
    client = ApiClient.objects.get(name="Industry partner (simulated)")
    url = reverse("api:report_status", kwargs={"reference": "HL-0000-0000-0000"})
    assert page.request.get(url, headers={"Authorization": f"Bearer {token}"}).status == 404
    page.goto("/nl/accounts/api-clients/")
    assert page.locator(f"tr[data-client='{client.name}'] .last-used").inner_text() != "nooit"
    page.click(f"tr[data-client='{client.name}'] button[type=submit]")
    page.wait_for_selector(".messages .success")
    shot(page, "6-clients-nl")
    client.refresh_from_db()
    assert not client.is_active and _done("apiclient.revoked", admin_user) == 1
