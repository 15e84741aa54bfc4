"""hotline report annual|quarterly: the published annual report (HTML + PDF) and the network's quarterly CSV."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hotline.stats import annual, pdf, quarterly, services
from hotline.stats.facts import refresh_all


class Command(BaseCommand):
    help = ("'annual --year Y --lang nl|fr|en [--out DIR]' writes the annual report as HTML and PDF; "
            "'quarterly --year Y --quarter Q [--out FILE]' writes the network's quarterly CSV.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("kind", choices=["annual", "quarterly"], help="which report")
        parser.add_argument("--year", type=int, required=True, help="the year reported on")
        parser.add_argument("--quarter", type=int, choices=[1, 2, 3, 4], help="the quarter (quarterly only)")
        parser.add_argument("--lang", choices=list(annual.LANGUAGES), default="en", help="the annual report's language")
        parser.add_argument("--out", default="", help="annual: a folder (default: here); quarterly: a file "
                                                     "(default: standard output)")
        parser.add_argument("--refresh", action="store_true",
                            help="recompute the facts of the period's items first (else: as the worker left them)")

    def handle(self, *args: Any, **options: Any) -> None:
        year, now = options["year"], timezone.now()
        if not 1990 <= year <= now.year:
            raise CommandError(f"--year: {year} is not a year from 1990 to {now.year}")
        if options["kind"] == "quarterly" and options["quarter"] is None:
            raise CommandError("--quarter: needed for the quarterly export (1 to 4)")
        if options["refresh"]:
            done = refresh_all(now=now, since=datetime(year - 1, 1, 1, tzinfo=UTC))  # and the year compared
            self.stderr.write(f"refreshed the facts of {done} items")
        oldest, count = services.facts_as_of()
        self.stderr.write(f"facts of {count} items, oldest refreshed {oldest.isoformat() if oldest else 'never'}")
        if options["kind"] == "annual":
            self._annual(year, options["lang"], Path(options["out"] or "."), now)
        else:
            self._quarterly(year, options["quarter"], options["out"], now)

    def _annual(self, year: int, language: str, out: Path, now: Any) -> None:
        report = annual.build(year, language, now=now)
        try:
            html_path, pdf_path = annual.write(report, out)
        except pdf.PdfUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{html_path}\n{pdf_path}")

    def _quarterly(self, year: int, quarter: int, out: str, now: Any) -> None:
        if date(year, 3 * quarter - 2, 1) > now.date():
            raise CommandError(f"--quarter: {year} Q{quarter} has not begun")
        text = quarterly.to_csv(year, quarter, now=now)
        if out:
            Path(out).write_text(text, encoding="utf-8")
            self.stdout.write(out)
        else:
            self.stdout.write(text, ending="")
