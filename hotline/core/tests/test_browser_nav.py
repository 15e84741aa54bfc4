"""The menu and the error pages in a real browser (Chromium via Playwright, on loopback).

The menu of the roles with the most links (manager, administrator, senior analyst) fits one line at
1280 px in English, Dutch and French, the section menus open with the keyboard (one at a time), and the
error pages are drawn with the site's style sheet. Screenshots in ``artifacts/screenshots/``: ``nav-<lang>.png``
(manager), ``nav-admin-<lang>.png``, ``nav-senior-<lang>.png``, ``error-404.png`` and ``error-403.png``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from hotline.accounts.models import User
from hotline.accounts.session import mark_second_factor_done
from hotline.core.tests.conftest import save_shot
from hotline.reports.models import Item

PREFIX = {"en": "", "nl": "/nl", "fr": "/fr"}
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]

# The header's height, whether anything sticks out of it, and the lowest top edge of its direct children.
HEADER = """() => {
  const h = document.querySelector('header.top');
  const r = h.getBoundingClientRect();
  const tops = [...h.querySelectorAll(':scope > *, nav.menu > *')].map(e => e.getBoundingClientRect())
    .filter(b => b.height > 0);
  return {height: r.height, overflow: h.scrollWidth - h.clientWidth,
          right: Math.max(...tops.map(b => b.right)), spread: Math.max(...tops.map(b => b.top)) -
          Math.min(...tops.map(b => b.top)), fontSize: parseFloat(getComputedStyle(h).fontSize)};
}"""
OPEN_MENUS = "n => document.querySelectorAll('details.section[open]').length === n"


@pytest.fixture
def tab_as(browser: Any, live_server: Any) -> Iterator[Callable[[User | None], Any]]:
    """A tab 1280 px wide, signed in as ``user`` (password and second factor done, via the session)."""
    contexts: list[Any] = []

    def make(user: User | None) -> Any:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(60_000)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            session = client.session
            mark_second_factor_done(session)
            session.save()
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
                                  "url": live_server.url}])
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(tab: Any, name: str, height: int = 420) -> None:
    save_shot(tab, name, clip={"x": 0, "y": 0, "width": 1280, "height": height})


@pytest.mark.parametrize("lang", ["en", "nl", "fr"])
def test_it_fits_the_manager_and_admin_menus_on_one_line_at_1280_px(
        lang: str, tab_as: Callable[[User | None], Any], manager: User, admin_user: User, senior: User) -> None:
    for user, name in ((manager, f"nav-{lang}"), (admin_user, f"nav-admin-{lang}"), (senior, f"nav-senior-{lang}")):
        tab = tab_as(user)
        tab.goto(f"{PREFIX[lang]}/")
        assert tab.locator(f'html[lang="{lang}"]').count() == 1
        measured = tab.evaluate(HEADER)
        line = measured["fontSize"] * 1.5
        assert measured["overflow"] <= 0, (name, measured)  # nothing pushed out of the bar
        assert measured["right"] <= 1280, (name, measured)
        assert measured["spread"] < line / 2, (name, measured)  # every item on the same line
        assert measured["height"] < 2 * line + 20, (name, measured)  # one line plus the padding
        # The language switch sits in the bar, in a row, at the same height as the menu.
        langs = [tab.locator(f'nav.langs a[hreflang="{code}"]').bounding_box() for code in ("en", "nl", "fr")]
        assert all(box is not None for box in langs)
        assert len({round(box["y"]) for box in langs if box is not None}) == 1
        # Keyboard: Tab to a section, Enter opens it, its first link is there to follow.
        key = "administration" if user == admin_user else "follow-up"
        section = tab.locator(f"details.section[data-section={key}] > summary")
        section.focus()
        tab.keyboard.press("Enter")
        first = tab.locator("details.section[open] ul a").first
        first.wait_for(state="visible")
        shot(tab, name)
        tab.keyboard.press("Tab")
        assert tab.evaluate("document.activeElement.closest('details[open]') !== null")
        # menu.js: another section opens alone, a click elsewhere or Escape closes it.
        tab.locator("details.section[data-section=knowledge] > summary").click()
        tab.wait_for_function(OPEN_MENUS, arg=1)  # the toggle event comes a moment after the click
        tab.keyboard.press("Escape")
        tab.wait_for_function(OPEN_MENUS, arg=0)
        assert tab.evaluate("document.activeElement.parentElement.dataset.section") == "knowledge"
        tab.locator("details.user-menu > summary").click()
        tab.wait_for_function(OPEN_MENUS, arg=1)
        tab.locator("main").click()
        tab.wait_for_function(OPEN_MENUS, arg=0)


def test_it_draws_the_404_and_403_pages_with_the_site_style(
        tab_as: Callable[[User | None], Any], police: User, analyst: User,
        make_item: Callable[..., Item]) -> None:
    item = make_item()  # no verdict: not police business
    with override_settings(DEBUG=True):  # as in the demo: still the styled page, no list of routes
        tab = tab_as(police)
        response = tab.goto(f"/nl/items/{item.pk}/")
        assert response is not None and response.status == 404
        assert tab.locator("h1").inner_text() == "Pagina niet gevonden"
        assert "URLconf" not in tab.content()
        code = tab.locator(".error-code")
        assert float(code.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) > 30  # site.css applied
        assert tab.locator(".error-back a.button").is_visible()
        shot(tab, "error-404", 360)
    tab = tab_as(analyst)
    response = tab.goto("/fr/statistics/")
    assert response is not None and response.status == 403
    assert tab.locator("h1").inner_text() == "Accès refusé"
    assert tab.locator(".error-page").evaluate("e => getComputedStyle(e).borderRadius") == "6px"
    tab.locator(".error-back a.button").click()
    tab.wait_for_url("**/fr/queue/")  # the way back: the analyst's start page
    tab.go_back()
    shot(tab, "error-403", 360)
