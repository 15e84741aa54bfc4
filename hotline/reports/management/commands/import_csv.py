"""hotline import-csv FILE: stream a CSV of reported URLs into the pipeline."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from hotline.audit.services import Actor
from hotline.reports.csv_import import CsvHeaderError, import_csv
from hotline.reports.models import Source


class Command(BaseCommand):
    help = ("Import reported URLs from a CSV file (header naming at least 'url'; separated by , ; or tab). "
            "Bad lines are listed; the exit code is 1 if any line was refused.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the CSV file (UTF-8)")
        parser.add_argument("--source", default=Source.CSV, choices=Source.values,
                            help="the channel the reports are recorded as coming from (default: csv)")
        parser.add_argument("--errors", help="write the line errors to this file")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            size = os.path.getsize(path)
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        actor = Actor(label=f"import:{os.path.basename(path)}")
        with handle, Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
            TimeRemainingColumn(), disable=options["quiet"], transient=True,
        ) as bar:
            task = bar.add_task("importing", total=size)
            try:
                summary = import_csv(handle, actor=actor, source=options["source"],
                                     progress=lambda done: bar.update(task, completed=done))
            except CsvHeaderError as exc:
                raise CommandError(str(exc)) from exc
        for error in summary.errors[:50]:
            self.stderr.write(str(error))
        if summary.error_count > 50:
            self.stderr.write(f"... and {summary.error_count - 50} more errors")
        if options["errors"]:
            with open(options["errors"], "w", encoding="utf-8") as out:
                out.writelines(f"{e}\n" for e in summary.errors)
        self.stdout.write(
            f"{summary.lines} lines: {summary.created} new items, {summary.merged} merged, "
            f"{summary.error_count} errors"
        )
        if summary.error_count:
            raise CommandError(f"{summary.error_count} of {summary.lines} lines refused", returncode=1)
