"""An outbox worker process for the crash-safety tests: ``python -m hotline.takedown.tests.worker_runner``.

Runs one worker step (``HOTLINE_TEST_STEP``: ``notice`` (default), ``inforequest`` or ``referral``; one row
per step, so a kill lands inside one send) until it has found no work for ``HOTLINE_TEST_IDLE_SECONDS``;
settings come from the environment like any worker's. The referral lease is a constant of its module:
``HOTLINE_TEST_REFERRAL_LEASE_SECONDS`` shortens it so a test can wait out a dead worker's lease.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta


def _step(name: str) -> Callable[[], bool]:
    if name == "inforequest":
        from hotline.takedown.steps import inforequest_step

        return lambda: inforequest_step(limit=1)
    if name == "referral":
        from hotline.routing.services import referrals
        from hotline.routing.steps import referral_step

        if lease := os.environ.get("HOTLINE_TEST_REFERRAL_LEASE_SECONDS"):
            referrals.LEASE = timedelta(seconds=float(lease))
        return referral_step
    from hotline.takedown.steps import notice_step

    return lambda: notice_step(limit=1)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    import django

    django.setup()
    step = _step(os.environ.get("HOTLINE_TEST_STEP", "notice"))
    idle = float(os.environ.get("HOTLINE_TEST_IDLE_SECONDS", "4"))
    last_work = time.monotonic()
    while time.monotonic() - last_work < idle:
        if step():
            last_work = time.monotonic()
        else:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
