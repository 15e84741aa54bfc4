"""Rate limits are exact: across a whole window (idle minutes included), per window, and under parallel clients.

Every behaviour runs against the database counter and, when Redis answers on 127.0.0.1:6379, against
Redis (a missing Redis skips those, except under ``CI=true``, where it is a failure).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from hotline.lib.ratelimit import allow, check_redis_url
from hotline.lib.steps import ratelimit_purge_step
from hotline.lib.tests.probe import in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/15"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def backend(request: pytest.FixtureRequest, settings: Any) -> str:
    if request.param == "redis":
        if not _redis_answers():
            if os.environ.get("CI") == "true":
                pytest.fail("Redis does not answer on 127.0.0.1:6379; .ci/run starts redis-server")
            pytest.skip("Redis does not answer on 127.0.0.1:6379")
        settings.HOTLINE_RATELIMIT_REDIS_URL = REDIS_URL
    else:
        settings.HOTLINE_RATELIMIT_REDIS_URL = ""
    return str(request.param)


@pytest.fixture
def scope() -> str:
    """A scope of its own per test: Redis keys outlive a test run by up to a window of real time."""
    return f"test-{uuid.uuid4().hex[:12]}"


def test_it_keeps_the_budget_exact_across_the_window_after_idle_minutes(backend: str, scope: str) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        assert [allow(scope, "198.51.100.1", "5/h") for _ in range(2)] == [True, True]
        clock.shift(timedelta(minutes=10))  # longer than the database cache's 300 s default lifetime
        assert [allow(scope, "198.51.100.1", "5/h") for _ in range(4)] == [True, True, True, False]
        clock.shift(timedelta(minutes=45))
        assert allow(scope, "198.51.100.1", "5/h") is False
        assert allow(scope, "198.51.100.2", "5/h") is True  # another client has its own budget
        clock.shift(timedelta(minutes=5))  # 11:00, a new window
        assert [allow(scope, "198.51.100.1", "5/h") for _ in range(6)] == [True] * 5 + [False]


def test_it_accepts_exactly_the_limit_from_parallel_clients(backend: str, scope: str) -> None:
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        results = in_parallel(24, lambda i: [allow(scope, "198.51.100.3", "20/h") for _ in range(3)])
    assert sum(ok for batch in results for ok in batch) == 20


def test_it_purges_counters_of_ended_windows_only(scope: str) -> None:
    with time_machine.travel(T0, tick=False) as clock:
        for key in ("198.51.100.4", "198.51.100.5"):
            allow(scope, key, "3/h")
        clock.shift(timedelta(hours=1, minutes=30))
        allow(scope, "198.51.100.4", "3/h")
        assert ratelimit_purge_step() is True
        assert ratelimit_purge_step() is False
        assert _counter_rows() == 1
        assert [allow(scope, "198.51.100.4", "3/h") for _ in range(3)] == [True, True, False]


def _counter_rows() -> int:
    from hotline.core.models import RateCounter

    return RateCounter.objects.count()


@pytest.mark.parametrize(("url", "problem"), [
    ("http://127.0.0.1:6379", "must start with redis://"),
    ("redis://", "names no host"),
    ("redis://127.0.0.1:port/0", "Port could not be cast"),
    ("redis://127.0.0.1:6379/zero", "database 'zero' is not a number"),
    ("unix://", "names no socket path"),
])
def test_it_refuses_a_malformed_redis_url(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_redis_url(url)
    check_redis_url("rediss://user:secret@redis.internal:6380/2")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("HOTLINE_LOGIN_RATE", "20/x", "HOTLINE_LOGIN_RATE: rate '20/x' must look like '10/h'"),
    ("HOTLINE_RATELIMIT_REDIS_URL", "http://cache:6379", "HOTLINE_RATELIMIT_REDIS_URL must start with redis://"),
])
def test_it_stops_start_up_on_a_bad_rate_setting(name: str, value: str, message: str, tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DJANGO_"))}
    clean |= {"DJANGO_SETTINGS_MODULE": "hotline.settings", "HOTLINE_DEBUG": "true",
              "HOTLINE_VAR_DIR": str(tmp_path), name: value}
    result = subprocess.run([sys.executable, "-m", "hotline.cli", "check"], cwd=ROOT, env=clean,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0 and message in result.stderr


def test_it_counts_in_the_database_while_redis_is_down(settings: Any, scope: str) -> None:
    settings.HOTLINE_RATELIMIT_REDIS_URL = "redis://127.0.0.1:9/0"  # discard port: nothing listens
    assert [allow(scope, "198.51.100.6", "2/h") for _ in range(3)] == [True, True, False]
    assert _counter_rows() == 1


def test_it_refuses_to_start_on_an_sqlite_without_upsert_returning(monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from django.db import connection

    from hotline.core.checks import rate_limit_counter_support

    assert rate_limit_counter_support() == []
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    ids = [message.id for message in rate_limit_counter_support()]
    assert ids == (["hotline.E003"] if connection.vendor == "sqlite" else [])
