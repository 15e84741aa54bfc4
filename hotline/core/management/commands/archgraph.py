"""hotline archgraph [--write|--check]: the domain import graph from the code (docs/architecture.md)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hotline.core import archgraph


class Command(BaseCommand):
    help = ("Print the import graph between hotline packages (tests and migrations left out) as the "
            "drawing docs/architecture.md holds; --write puts it there, --check fails when the doc differs.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--write", action="store_true", help="replace the drawing in docs/architecture.md")
        action.add_argument("--check", action="store_true", help="exit 1 when docs/architecture.md differs")

    def handle(self, *args: Any, **options: Any) -> None:
        edges = archgraph.graph()
        if options["write"]:
            changed = archgraph.write(edges=edges)
            self.stdout.write(f"{archgraph.DOC}: {'updated' if changed else 'already true'}")
        elif options["check"]:
            if archgraph.documented(archgraph.DOC.read_text(encoding="utf-8")) != archgraph.block(edges):
                raise CommandError(f"{archgraph.DOC} differs from the code: run `hotline archgraph --write`")
            self.stdout.write("docs/architecture.md matches the code")
        else:
            self.stdout.write(archgraph.drawing(edges))
