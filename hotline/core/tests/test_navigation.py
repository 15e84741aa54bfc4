"""The staff menu shows each role exactly the pages it can open, and nothing before the second factor."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.core.navigation import MENU

pytestmark = pytest.mark.django_db


def _menu(page: bytes) -> list[str]:
    """Every link of the staff menu and the user menu, in screen order (not the language switch)."""
    header = page.decode().split('<header class="top">', 1)[1].split("</header>", 1)[0]
    if 'class="menu"' not in header or "user-menu" not in header:
        return []
    menu = header.split('<nav class="menu"', 1)[1].split("</nav>", 1)[0]
    user_menu = header.split("user-menu", 1)[1]
    return re.findall(r'<a href="([^"]+)"', menu) + re.findall(r'<a href="([^"]+)"', user_menu)


@pytest.mark.parametrize("role", ["analyst", "senior_analyst", "police_liaison", "manager", "admin"])
def test_every_menu_link_opens_for_the_role_that_sees_it(role: str, personas: dict[str, User], login: Any) -> None:
    client = login(personas[role])
    links = _menu(client.get(reverse("core:home"), follow=True).content)
    expected = [reverse(route) for route, _label, roles in MENU if role in roles]
    assert links == expected
    for href in links:
        assert client.get(href).status_code == 200, href


def test_no_menu_before_the_second_factor(analyst: User) -> None:
    client = Client()
    client.force_login(analyst)
    response = client.get(reverse("accounts:verify"), follow=True)
    assert _menu(response.content) == []
