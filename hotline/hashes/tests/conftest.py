"""The real-browser fixtures of the core tests, for this app's browser test."""

from hotline.core.tests.conftest import browser, new_tab, page

__all__ = ["browser", "new_tab", "page"]
