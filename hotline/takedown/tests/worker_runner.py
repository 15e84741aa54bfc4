"""A notice worker process for the crash-safety tests: ``python -m hotline.takedown.tests.worker_runner``.

Runs ``notice_step`` (one notice per step, so a kill lands inside one send) until it has found no work
for ``HOTLINE_TEST_IDLE_SECONDS``; settings come from the environment like any worker's.
"""

from __future__ import annotations

import os
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    import django

    django.setup()
    from hotline.takedown.sending import notice_step

    idle = float(os.environ.get("HOTLINE_TEST_IDLE_SECONDS", "4"))
    last_work = time.monotonic()
    while time.monotonic() - last_work < idle:
        if notice_step(limit=1):
            last_work = time.monotonic()
        else:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
