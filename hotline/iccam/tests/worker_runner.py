"""An ICCAM push worker process for the crash-safety test: ``python -m hotline.iccam.tests.worker_runner``.

Runs ``push_step`` (one write per step, so a kill lands inside one send) until it has found no work for
``HOTLINE_TEST_IDLE_SECONDS``; settings come from the environment like any worker's.
"""

from __future__ import annotations

import os
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    import django

    django.setup()
    from hotline.iccam.steps import push_step

    idle = float(os.environ.get("HOTLINE_TEST_IDLE_SECONDS", "4"))
    last_work = time.monotonic()
    while time.monotonic() - last_work < idle:
        if push_step(limit=1):
            last_work = time.monotonic()
        else:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
