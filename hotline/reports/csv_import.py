"""Streaming CSV intake: one report per line, bad lines reported by number, good lines kept.

Columns (header required): ``url`` (required), ``received_at`` (ISO 8601), ``text``,
``language``, ``external_ref``, ``contact``. Unknown columns are ignored. The separator is
``,``, ``;`` (what Belgian spreadsheets save) or a tab, whichever the header line uses most.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hotline.audit.services import Actor
from hotline.lib import textguard
from hotline.reports.models import Source
from hotline.reports.services import IncomingReport, receive_reports

BATCH = 1000
SEPARATORS = (",", ";", "\t")
COLUMNS = ("url", "received_at", "text", "language", "external_ref", "contact")
MAX_FIELD = 20_000


@dataclass
class LineError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: field '{self.field}': {self.message}"


@dataclass
class ImportSummary:
    lines: int = 0
    created: int = 0
    merged: int = 0
    errors: list[LineError] = field(default_factory=list)
    max_errors_kept: int = 10_000
    error_count: int = 0

    def add_error(self, error: LineError) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_errors_kept:
            self.errors.append(error)


class CsvHeaderError(ValueError):
    pass


def import_csv(
    binary: IO[bytes],
    *,
    actor: Actor,
    source: str = Source.CSV,
    submitted_by_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Read ``binary`` as UTF-8 CSV line by line; memory stays flat whatever the file size."""
    csv.field_size_limit(MAX_FIELD)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
    header = text.readline()
    reader = csv.DictReader(itertools.chain([header], text), delimiter=sniff_separator(header))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise CsvHeaderError(f"not a CSV file (line 1: {exc})") from None
    problem = textguard.csv_header_problem(",".join(fieldnames or ()))
    if problem is not None:
        raise CsvHeaderError(f"not a CSV file ({problem})")
    if fieldnames is None or "url" not in [f.strip().lower() for f in fieldnames]:
        raise CsvHeaderError("the first line must be a header naming at least the column 'url'")
    summary = ImportSummary()
    for batch in _batches(reader, summary, source=source, submitted_by_id=submitted_by_id):
        _receive(batch, summary, actor=actor)
        if progress is not None:
            progress(binary.tell())
    summary.errors.sort(key=lambda e: e.line)
    return summary


def sniff_separator(header: str) -> str:
    """The separator the header line uses most (a comma when it names one column only)."""
    counts = [(header.count(sep), -rank, sep) for rank, sep in enumerate(SEPARATORS)]
    return max(counts)[2]


def _batches(
    reader: csv.DictReader[str], summary: ImportSummary, *, source: str, submitted_by_id: int | None
) -> Iterator[list[tuple[int, IncomingReport]]]:
    batch: list[tuple[int, IncomingReport]] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            summary.lines += 1
            # DictReader.line_num is only updated after a good row; its inner reader's counts this one.
            summary.add_error(LineError(reader.reader.line_num, "*", f"not valid CSV: {exc}"))
            continue
        summary.lines += 1
        incoming = _row_to_report(row, reader.line_num, summary, source, submitted_by_id)
        if incoming is not None:
            batch.append((reader.line_num, incoming))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _row_to_report(
    row: dict[str | None, str | None] | dict[str, str],
    line: int,
    summary: ImportSummary,
    source: str,
    submitted_by_id: int | None,
) -> IncomingReport | None:
    values = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
    for name in COLUMNS:
        value = values.get(name, "")
        # PostgreSQL refuses NUL in text: one such value would fail the whole batch of BATCH lines.
        if (problem := textguard.text_problem(value)) is not None:
            summary.add_error(LineError(line, name, problem))
            return None
    url = values.get("url", "")
    if not url:
        summary.add_error(LineError(line, "url", "empty"))
        return None
    received_at: datetime | None = None
    if raw_time := values.get("received_at"):
        received_at = parse_datetime(raw_time)
        if received_at is None:
            summary.add_error(LineError(line, "received_at", f"{raw_time!r} is not an ISO 8601 time"))
            return None
        if timezone.is_naive(received_at):
            received_at = received_at.replace(tzinfo=UTC)
    return IncomingReport(
        source=source, urls=[url], received_at=received_at, text=values.get("text", ""),
        language=values.get("language", ""), external_ref=values.get("external_ref", ""),
        reporter_contact=values.get("contact", ""), submitted_by_id=submitted_by_id,
    )


def _receive(batch: list[tuple[int, IncomingReport]], summary: ImportSummary, *, actor: Actor) -> None:
    results = receive_reports([incoming for _, incoming in batch], actor=actor)
    for (line, _), result in zip(batch, results, strict=True):
        for url in result.urls:
            if url.result == "rejected":
                summary.add_error(LineError(line, "url", url.reason or "not a URL"))
            elif url.result == "created":
                summary.created += 1
            else:
                summary.merged += 1
