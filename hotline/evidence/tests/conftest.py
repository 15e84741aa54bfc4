from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotline.evidence.services import CaptureConfig
from hotline.sim.web import SimWeb


@pytest.fixture(scope="module")
def sim() -> Iterator[SimWeb]:
    with SimWeb() as web:
        yield web


@pytest.fixture
def capture_config(sim: SimWeb) -> CaptureConfig:
    return CaptureConfig(policy=sim.fetch_policy(total_timeout=10.0), max_attempts=3)
