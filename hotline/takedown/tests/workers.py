"""Outbox worker processes for the crash-safety tests (SIGKILL mid-send, several workers in parallel):
each runs one step (``worker_runner``) against this test's PostgreSQL database and an SMTP sink on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from hotline.sim.smtp import SmtpSink

ROOT = Path(__file__).resolve().parents[3]


class Workers:
    """Starts worker processes; ``stop()`` kills the ones still running. ``lease`` is how long a send may
    take before another worker may take the row over, ``idle`` how long a worker goes on without work:
    both generous unless a test needs a lease to run out, so a busy machine never makes two workers send
    the same row."""

    def __init__(self, *, env: dict[str, str] | None = None) -> None:
        db = connection.settings_dict
        self.url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        self.env = env or {}
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, sink: SmtpSink, *, step: str = "notice", lease: int = 300,
              idle: int = 4) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "DJANGO_", "DATABASE_"))}
        env |= {"DJANGO_SETTINGS_MODULE": "hotline.settings_test", "DATABASE_URL": self.url,
                "HOTLINE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "HOTLINE_SMTP_HOST": sink.host, "HOTLINE_SMTP_PORT": str(sink.port),
                "HOTLINE_TAKEDOWN_SEND_LEASE_SECONDS": str(lease), "HOTLINE_TEST_REFERRAL_LEASE_SECONDS": str(lease),
                "HOTLINE_TEST_STEP": step, "HOTLINE_TEST_IDLE_SECONDS": str(idle)} | self.env
        process = subprocess.Popen([sys.executable, "-m", "hotline.takedown.tests.worker_runner"],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


BACKSTOP = 600.0  # seconds: on a machine loaded by another job, worker processes can take minutes to start


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for ``condition``. ``timeout`` says what to expect; the wait only gives up after the backstop, so a
    slow machine makes the test slower, never red."""
    deadline = time.monotonic() + max(timeout, BACKSTOP)
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
