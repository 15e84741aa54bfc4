"""The real-browser fixtures (Playwright driving Debian's Chromium) shared with core's browser tests."""

from hotline.core.tests.conftest import browser, new_tab, page

__all__ = ["browser", "new_tab", "page"]
