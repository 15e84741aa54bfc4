"""hotline worker: run the background steps of every domain (see HOTLINE_WORKER_STEPS).

``--only capture,trace`` / ``--skip capture`` pick steps by name (the function name with or without
``_step``), so each kind of work can run as its own process type and scale on its own (docs/deploy.md).
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from hotline.lib.worker import Step, Stopper, run_forever, run_once

log = logging.getLogger("hotline.worker")


def step_name(path: str) -> str:
    """``hotline.evidence.services.capture_step`` -> ``capture``."""
    return path.rsplit(".", 1)[-1].removesuffix("_step")


def _names(raw: str | None) -> set[str]:
    return {name.strip().removesuffix("_step") for name in (raw or "").split(",") if name.strip()}


def select_steps(paths: list[str], *, only: str | None, skip: str | None) -> list[str]:
    """The step paths to run, in settings order; an unknown name is an error naming the valid ones."""
    wanted, unwanted = _names(only), _names(skip)
    known = {step_name(path) for path in paths}
    unknown = sorted((wanted | unwanted) - known)
    if unknown:
        raise CommandError(f"unknown worker step(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    chosen = [p for p in paths if (not wanted or step_name(p) in wanted) and step_name(p) not in unwanted]
    if not chosen:
        raise CommandError("--only/--skip leave no step to run")
    return chosen


class Command(BaseCommand):
    help = "Run background work: expired claims now; capture, tracing and notices as they land."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every step once and exit")
        parser.add_argument("--sleep", type=float, default=2.0, help="seconds to wait when idle")
        parser.add_argument("--only", metavar="STEP,...",
                            help="run only these steps (e.g. capture,trace; names as in HOTLINE_WORKER_STEPS)")
        parser.add_argument("--skip", metavar="STEP,...", help="run every step except these")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = select_steps(list(settings.HOTLINE_WORKER_STEPS), only=options["only"], skip=options["skip"])
        steps: list[Step] = [import_string(path) for path in paths]
        if options["once"]:
            found = run_once(steps)
            self.stdout.write("worked" if found else "nothing to do")
            return
        stopper = Stopper()
        stopper.install()
        log.info("worker started with %d steps: %s", len(steps), ", ".join(step_name(p) for p in paths))
        run_forever(steps, stopper=stopper, idle_sleep=options["sleep"])
