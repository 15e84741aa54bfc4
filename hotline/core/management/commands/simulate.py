"""hotline simulate: run the end-to-end scenario on a fake clock against the simulated world on loopback."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from hotline.demo.simulate import simulate, summary_lines
from hotline.reports.models import Item


class Command(BaseCommand):
    help = ("Simulate N reports flowing through intake, capture, matching, assessment, tracing, routing, police "
            "hold, notices, re-checks and removal or escalation; print the end state and the statistics.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--reports", type=int, default=1000, help="how many reports to simulate (default 1000)")
        parser.add_argument("--days", type=int, default=60, help="over how many days (default 60)")
        parser.add_argument("--seed", type=int, default=1, help="random seed")
        parser.add_argument("--quiet", action="store_true", help="no daily progress lines")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reports"] < 1 or options["days"] < 1:
            raise CommandError("--reports and --days must be at least 1")
        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)
        if Item.objects.exists():
            raise CommandError("the database already holds items: simulate into an empty database "
                               "(e.g. HOTLINE_VAR_DIR=/tmp/sim hotline simulate)")
        progress = None if options["quiet"] else (lambda line: self.stdout.write(line))
        result = simulate(options["reports"], days=options["days"], seed=options["seed"], progress=progress)
        self.stdout.write("\n".join(summary_lines(result)))
