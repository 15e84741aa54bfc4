"""The real-browser fixtures of the core tests, for this app's browser test; and a fresh PDQ index per test."""

from collections.abc import Iterator

import pytest

from hotline.core.tests.conftest import browser, new_tab, page
from hotline.hashes import services

__all__ = ["browser", "new_tab", "page"]


@pytest.fixture(autouse=True)
def _forget_the_pdq_index() -> Iterator[None]:
    """Each test's rolled-back transaction resets ``IndexVersion``: a later test can reach the same version
    number with other entries, so the process's index is forgotten around every test."""
    services.forget_pdq_index()
    yield
    services.forget_pdq_index()
