"""The loop every worker process runs: call each step until none finds work, then sleep.

A step is a function ``step() -> bool`` (True when it did something). SIGTERM and SIGINT end the
loop after the current step, so a deploy never cuts a step in half.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from django.db import close_old_connections

log = logging.getLogger("hotline.worker")
Step = Callable[[], bool]


class Stopper:
    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current step, then stopping", signum)
        self.event.set()

    @property
    def stopped(self) -> bool:
        return self.event.is_set()


def run_once(steps: Sequence[Step]) -> bool:
    """Run every step once; a failing step is logged and does not stop the others."""
    found = False
    for step in steps:
        try:
            found = step() or found
        except Exception:
            log.exception("worker step %s failed", getattr(step, "__name__", step))
    return found


def run_forever(steps: Sequence[Step], *, stopper: Stopper, idle_sleep: float = 2.0) -> None:
    while not stopper.stopped:
        close_old_connections()
        busy = run_once(steps)
        if not busy:
            stopper.event.wait(idle_sleep)
    log.info("worker stopped")


def sleep_until_stopped(stopper: Stopper, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stopper.stopped and time.monotonic() < deadline:
        stopper.event.wait(min(1.0, deadline - time.monotonic()))
