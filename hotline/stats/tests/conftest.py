from __future__ import annotations

import pytest

from hotline.accounts.models import User
from hotline.stats.facts import refresh_all
from hotline.stats.tests.history import NOW, History, build


@pytest.fixture
def history(analyst: User, analyst2: User, senior: User) -> History:
    """The fixed synthetic history of history.py, with every item's facts computed at NOW."""
    built = build({"ana": analyst, "bert": analyst2, "sara": senior})
    refresh_all(now=NOW)
    return built


from hotline.core.tests.conftest import browser  # noqa: E402, F401  (the real-browser fixture, shared)
