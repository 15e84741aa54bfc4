"""hotline audit verify: recompute every stream's hash chain and the seals, and name every broken event; check the
seals against their anchors outside the database (HOTLINE_AUDIT_ANCHOR_FILE, or --anchors FILE).
hotline audit seal: fold the stream heads into a new seal now (the worker does this periodically)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hotline.audit.services import seal, verify


class Command(BaseCommand):
    help = ("Audit trail tools. 'verify' checks that no event or seal was edited, inserted, deleted or reordered; "
            "'seal' seals the current stream heads.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["verify", "seal"],
                            help="verify: check that no event was edited, inserted, deleted or reordered in any "
                                 "stream or seal; seal: seal the stream heads now")
        parser.add_argument("--anchors", metavar="FILE",
                            help="verify: the seals' anchors to check against (default: HOTLINE_AUDIT_ANCHOR_FILE; "
                                 "a copy from the log host will do)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seal":
            made = seal()
            self.stdout.write(f"sealed: seal {made.pk} ({made.hash})" if made else "nothing new to seal")
            return
        anchors = options["anchors"] or settings.HOTLINE_AUDIT_ANCHOR_FILE or None
        result = verify(anchors=anchors)
        for problem in result.problems:
            self.stderr.write(f"event #{problem.seq}: {problem.message}" if problem.seq else problem.message)
        if not result.ok:
            raise CommandError(f"audit chain broken: {len(result.problems)} problem(s) in {result.checked} events")
        anchored = (f", {result.anchors} anchor(s) in {anchors}" if anchors
                    else ", seals not anchored outside the database")
        self.stdout.write(f"audit chain intact: {result.checked} events in {result.streams} stream(s), "
                          f"{result.seals} seal(s){anchored}, heads {result.head_hash}")
