"""Browser fixtures shared by the real-browser tests (Playwright driving Debian's Chromium, headless).

Without Chromium those tests skip, except under ``CI=true``, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls
    # are still synchronous, so Django's async-safety guard is lifted while the browser lives.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def new_tab(browser: Any, live_server: Any) -> Iterator[Callable[[], Any]]:
    """Each call opens a tab in a fresh browser context: its own cookies, so its own session."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 900})
        context.set_default_timeout(60_000)  # a bound for a busy machine: every wait returns as soon as it can
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_tab: Callable[[], Any]) -> Any:
    return new_tab()


SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"


def save_shot(tab: Any, name: str, **options: Any) -> None:
    """Write ``artifacts/screenshots/<name>.png`` for people to look at. Chromium sometimes answers
    "Unable to capture screenshot" when the machine is busy (its compositor had no frame ready): the
    picture is not what the test checks, so it is asked for again a few times before that fails the test."""
    from playwright.sync_api import Error

    SHOTS.mkdir(parents=True, exist_ok=True)
    for attempt in range(4):
        try:
            tab.screenshot(path=str(SHOTS / f"{name}.png"), **options)
            return
        except Error as error:
            if "Unable to capture screenshot" not in str(error) or attempt == 3:
                raise
