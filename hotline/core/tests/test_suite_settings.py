"""The suite itself: property tests never fail on a busy machine, and run the same examples under CI."""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from hotline.conftest import HYPOTHESIS_EXAMPLES

HOTLINE = Path(__file__).resolve().parents[2]


def test_it_runs_property_tests_without_a_deadline_on_a_fixed_budget() -> None:
    profile = settings.default
    assert profile is not None and profile.deadline is None
    assert profile.max_examples == HYPOTHESIS_EXAMPLES
    assert HealthCheck.too_slow in profile.suppress_health_check
    assert profile.derandomize == (os.environ.get("CI") == "true" and "HYPOTHESIS_PROFILE" not in os.environ)


def test_the_ci_profile_runs_the_same_examples_every_time_and_prints_how_to_reproduce() -> None:
    ci = settings.get_profile("hotline-ci")
    assert (ci.derandomize, ci.print_blob, ci.deadline, ci.max_examples) == (True, True, None, HYPOTHESIS_EXAMPLES)


def _property_test_modules() -> list[str]:
    names = []
    for path in sorted(HOTLINE.rglob("tests/test_*.py")):
        text = path.read_text(encoding="utf-8")
        if "from hypothesis import" in text or "import schemathesis" in text:
            names.append(".".join(path.relative_to(HOTLINE.parent).with_suffix("").parts))
    return names


@pytest.mark.parametrize("module", _property_test_modules())
def test_no_property_test_brings_back_a_wall_clock_limit(module: str, db: None) -> None:
    """A test's own ``@settings`` inherits the profile, except what it names: it must name no deadline,
    and a ``suppress_health_check`` of its own must keep suppressing the timing checks.

    (``db``: importing a schemathesis module builds the OpenAPI schema, which may read the database.)"""
    tests = [obj for _, obj in inspect.getmembers(importlib.import_module(module), callable)
             if isinstance(getattr(obj, "_hypothesis_internal_use_settings", None), settings)]
    for test in tests:
        own: settings = getattr(test, "_hypothesis_internal_use_settings")  # noqa: B009 - set by @settings
        assert own.deadline is None, f"{module}.{test.__name__}: no deadline (the profile has none)"
        assert HealthCheck.too_slow in own.suppress_health_check, f"{module}.{test.__name__}: start the list " \
            "with TIMING_HEALTH_CHECKS from hotline/conftest.py"
