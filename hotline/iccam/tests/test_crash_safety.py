"""Exactly once after SIGKILL: a push worker killed after ICCAM took its write, but before it recorded the
answer, is replaced by one that reads the item back and records the write without sending it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from hotline.iccam.models import Content, Push, PushState
from hotline.iccam.steps import pull_step
from hotline.sim.iccam import SimIccam

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def start_worker(iccam_on: SimIccam) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database only on PostgreSQL")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    started: list[subprocess.Popen[bytes]] = []

    def start(*, lease: int, idle: int = 4) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DJANGO_", "DATABASE_"))}
        env |= iccam_on.environment() | {
            "DJANGO_SETTINGS_MODULE": "hotline.settings_test", "DATABASE_URL": url,
            "HOTLINE_FETCH_ALLOW_LOOPBACK": "true", "HOTLINE_HOME_COUNTRY": "BE",
            "HOTLINE_ICCAM_SEND_LEASE_SECONDS": str(lease), "HOTLINE_TEST_IDLE_SECONDS": str(idle)}
        process = subprocess.Popen([sys.executable, "-m", "hotline.iccam.tests.worker_runner"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _pushes(sim: SimIccam) -> list[Any]:
    return [w for w in list(sim.writes) if w[0] in ("assessment", "action")]


def test_a_push_worker_killed_mid_push_never_doubles_a_write(
    iccam_on: SimIccam, start_worker: Callable[..., subprocess.Popen[bytes]], facts: Any
) -> None:
    for n in range(10):
        iccam_on.add_report([f"http://site-{n}.sim.test/img.png"])
    pull_step()
    for content in Content.objects.select_related("item"):
        facts.assess(content.item, "baseline")
        facts.referred(content.item)
    iccam_on.answer_delay = 30  # ICCAM takes the first write, then the answer hangs
    first = start_worker(lease=3)
    _wait(lambda: len(_pushes(iccam_on)) >= 1, 60, "the first write to reach ICCAM")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = Push.objects.get(state=PushState.SENDING)
    assert cut.attempts == 1
    iccam_on.answer_delay = 0
    second = start_worker(lease=3, idle=15)
    _wait(lambda: Push.objects.count() == 20 and not Push.objects.exclude(state=PushState.SENT).exists(), 120,
          "the second worker to finish every write")
    second.wait(timeout=60)
    counts = iccam_on.write_counts()
    assert len(_pushes(iccam_on)) == 20 and {counts[w] for w in _pushes(iccam_on)} == {1}
    cut.refresh_from_db()
    assert (cut.state, cut.attempts) == (PushState.SENT, 2)
    assert second.returncode == 0, second.stderr.read() if second.stderr else b""
