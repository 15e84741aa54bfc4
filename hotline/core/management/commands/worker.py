"""hotline worker: run the background steps of every domain (see HOTLINE_WORKER_STEPS)."""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from hotline.lib.worker import Step, Stopper, run_forever, run_once

log = logging.getLogger("hotline.worker")


class Command(BaseCommand):
    help = "Run background work: expired claims now; capture, tracing and notices as they land."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every step once and exit")
        parser.add_argument("--sleep", type=float, default=2.0, help="seconds to wait when idle")
        parser.add_argument("--demo-feed", type=float, default=0.0,
                            help="demo only: add synthetic reports every N seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        steps: list[Step] = [import_string(path) for path in settings.HOTLINE_WORKER_STEPS]
        if options["demo_feed"] > 0:
            from hotline.demo.generator import feed_step

            steps.append(feed_step(every_seconds=options["demo_feed"]))
        if options["once"]:
            found = run_once(steps)
            self.stdout.write("worked" if found else "nothing to do")
            return
        stopper = Stopper()
        stopper.install()
        log.info("worker started with %d steps", len(steps))
        run_forever(steps, stopper=stopper, idle_sleep=options["sleep"])
