"""Fixtures: a running simulated ICCAM and the settings that point the connector at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hotline.sim.iccam import SimIccam


@pytest.fixture
def sim_iccam() -> Iterator[SimIccam]:
    with SimIccam(country="BE") as sim:
        yield sim


@pytest.fixture
def iccam_on(sim_iccam: SimIccam, settings: Any) -> SimIccam:
    """The connector configured for the simulator (loopback allowed, as in every outbound test)."""
    for name, value in sim_iccam.environment().items():
        setattr(settings, name, value)
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    settings.HOTLINE_HOME_COUNTRY = "BE"
    settings.HOTLINE_ICCAM_LOGIN_WAIT_SECONDS = 0
    return sim_iccam
