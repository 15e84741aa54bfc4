"""The statistics page as a manager sees it in a real browser (Chromium via Playwright, 1280 px wide),
in English, Dutch and French: charts large enough to read and described in words, every table inside its
box (or scrolling inside it), comparisons that say "no data", numbers in the language's format.

Screenshots: ``artifacts/screenshots/statistics-<lang>.png`` (the whole page) and ``statistics-<lang>-top.png``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from hotline.accounts.models import User
from hotline.accounts.session import mark_second_factor_done
from hotline.core.tests.conftest import save_shot
from hotline.stats.tests import demo_like
from hotline.stats.tests.history import NOW, History

PREFIX = {"en": "", "nl": "/nl", "fr": "/fr"}
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]

# Per table: how much wider its content is than its box, and whether the box scrolls.
TABLES = """() => [...document.querySelectorAll('.stats-table')].map(s => {
  const box = s.querySelector('.table-scroll') || s;
  return {name: s.id, over: box.scrollWidth - box.clientWidth, scrolls: getComputedStyle(box).overflowX === 'auto',
          right: s.querySelector('table').getBoundingClientRect().right, boxRight: box.getBoundingClientRect().right};
})"""
CHARTS = """() => [...document.querySelectorAll('img[data-chart]')].map(i => ({
  name: i.dataset.chart, width: i.getBoundingClientRect().width, natural: i.naturalWidth, alt: i.alt}))"""


@pytest.fixture
def manager_tab(browser: Any, live_server: Any, manager: User) -> Iterator[Callable[[], Any]]:
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(60_000)
        contexts.append(context)
        client = Client()
        client.force_login(manager)
        session = client.session
        mark_second_factor_done(session)
        session.save()
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
                              "url": live_server.url}])
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("lang", ["en", "nl", "fr"])
def test_a_manager_can_read_the_statistics_page(lang: str, history: History, manager_tab: Callable[[], Any]) -> None:
    demo_like.build()  # beside the history (providers, analysts): a national hotline's volume
    tab = manager_tab()
    with time_machine.travel(NOW, tick=False):
        tab.goto(f"{PREFIX[lang]}/statistics/?year=2025")
    save_shot(tab, f"statistics-{lang}-top")
    save_shot(tab, f"statistics-{lang}", full_page=True)
    assert tab.evaluate("document.documentElement.scrollWidth") <= 1280  # the page itself never scrolls sideways
    for table in tab.evaluate(TABLES):
        assert table["over"] <= 0 or table["scrolls"], table  # fits, or scrolls inside its own box
        assert table["boxRight"] <= 1280, table
    charts = tab.evaluate(CHARTS)
    assert [c["name"] for c in charts] == ["monthly", "timings", "countries"]
    for chart in charts:
        assert chart["width"] >= 900, chart  # the full width of the page's text
        assert chart["width"] >= 0.95 * chart["natural"], chart  # drawn at the size shown: text not shrunk
        assert len(chart["alt"]) > 60, chart  # the title and what the chart shows, in words
    page = tab.locator("main").inner_text()
    assert "(-)" not in page
    cards = tab.locator(".stats-cards").inner_text()
    share = {"en": r"\d+\.\d%", "nl": r"\d+,\d\u00a0%", "fr": r"\d+,\d\u00a0%"}[lang]
    assert re.search(share, tab.locator("#table-illegal_share").inner_text()), lang
    assert re.search(share, cards), cards
