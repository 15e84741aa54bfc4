"""hotline audit verify: recompute every stream's hash chain and the seals, and name every broken event.
hotline audit seal: fold the stream heads into a new seal now (the worker does this periodically)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.audit.services import seal, verify


class Command(BaseCommand):
    help = ("Audit trail tools. 'verify' checks that no event or seal was edited, inserted, deleted or reordered; "
            "'seal' seals the current stream heads.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["verify", "seal"],
                            help="verify: check that no event was edited, inserted, deleted or reordered in any "
                                 "stream or seal; seal: seal the stream heads now")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seal":
            made = seal()
            self.stdout.write(f"sealed: seal {made.pk} ({made.hash})" if made else "nothing new to seal")
            return
        result = verify()
        for problem in result.problems:
            self.stderr.write(f"event #{problem.seq}: {problem.message}" if problem.seq else problem.message)
        if not result.ok:
            raise CommandError(f"audit chain broken: {len(result.problems)} problem(s) in {result.checked} events")
        self.stdout.write(f"audit chain intact: {result.checked} events in {result.streams} stream(s), "
                          f"{result.seals} seal(s), heads {result.head_hash}")
