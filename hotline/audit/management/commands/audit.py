"""hotline audit verify: recompute the hash chain and name every broken event."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.audit.services import verify


class Command(BaseCommand):
    help = "Audit trail tools. 'verify' checks that no event was edited, inserted or deleted."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["verify"],
                            help="verify: check that no event was edited, inserted or deleted")

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        for problem in result.problems:
            self.stderr.write(f"event #{problem.seq}: {problem.message}")
        if not result.ok:
            raise CommandError(f"audit chain broken: {len(result.problems)} problem(s) in {result.checked} events")
        self.stdout.write(f"audit chain intact: {result.checked} events, head {result.head_hash}")
