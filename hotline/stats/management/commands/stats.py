"""hotline stats refresh [--since YYYY-MM-DD]: recompute the item facts the statistics are drawn from."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hotline.stats.facts import refresh_all


class Command(BaseCommand):
    help = "'refresh' recomputes every item's facts (or those of items reported since --since)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["refresh"], help="refresh: recompute the items' facts")
        parser.add_argument("--since", default="", help="only items first reported on or after this date")

    def handle(self, *args: Any, **options: Any) -> None:
        since = None
        if options["since"]:
            try:
                day = date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError(f"--since: {options['since']!r} is not a date (YYYY-MM-DD)") from None
            since = datetime(day.year, day.month, day.day, tzinfo=UTC)
        started = time.monotonic()
        done = refresh_all(now=timezone.now(), since=since)
        self.stdout.write(f"refreshed the facts of {done} items in {time.monotonic() - started:.1f} s")
