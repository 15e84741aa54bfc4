"""Importing the outcomes the police send as CSV: every bad line named by number and field, the valid
lines kept, and a re-import creating nothing twice (one outcome per case, outcome and date).

Columns (header required, in any order; `,` or `;` as separator; unknown columns ignored):
`case_reference` (CASE-2026-0001), `outcome` (a code or its NL/FR/EN label), `date` (YYYY-MM-DD or
DD/MM/YYYY), `reason` (dismissals only, and required for them), `note`. See docs/cases.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from hotline.audit.services import Actor, Change, record_many
from hotline.cases import actions
from hotline.cases.codes import OutcomeCode, OutcomeSource, parse_outcome, parse_reason
from hotline.cases.models import Case, CaseQuerySet, Outcome, OutcomeImport
from hotline.cases.services.case_files import CaseError, check_outcome, outcome_change

COLUMNS = ("case_reference", "outcome", "date", "reason", "note")
REQUIRED = ("case_reference", "outcome", "date")
ERRORS_KEPT = 1000
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not UTF-8, no usable header, too large): nothing was imported."""


@dataclass(frozen=True)
class Line:
    number: int
    reference: str
    code: str
    decided_on: date
    reason: str
    note: str


@dataclass
class Parsed:
    lines: list[Line] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def error(self, line: int, name: str, message: str) -> None:
        self.errors.append({"line": line, "field": name, "message": message})


def import_outcomes(data: bytes, *, filename: str, actor: Actor, now: datetime,
                    within: CaseQuerySet | None = None) -> OutcomeImport:
    """Import one file. `within` limits the cases a line may name (others read as unknown: the uploader
    learns nothing about cases they may not see). Raises ImportFileError only for whole-file problems."""
    parsed = parse(data, now=now)
    with transaction.atomic():
        return _apply(parsed, within if within is not None else Case.objects.all(), filename=filename,
                      sha256=hashlib.sha256(data).hexdigest(), actor=actor, now=now)


# --- 1. reading the file (no database) ------------------------------------------------------------------


def parse(data: bytes, *, now: datetime) -> Parsed:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header = _header(next(reader, None))
    parsed = Parsed()
    for number, row in _rows(reader, parsed):
        parsed.count += 1
        line = _line(number, header, row, parsed, now=now)
        if line is not None:
            parsed.lines.append(line)
    return parsed


def _decode(data: bytes) -> str:
    limit = int(settings.HOTLINE_CASES_IMPORT_MAX_BYTES)
    if len(data) > limit:
        raise ImportFileError(f"file: larger than {limit} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(f"file: not UTF-8 text (line {line}); save it as CSV UTF-8") from exc


def _header(row: list[str] | None) -> dict[str, int]:
    names = [re.sub(r"\s+", "_", name.strip().lower()) for name in row or []]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise ImportFileError(f"header: missing column(s) {', '.join(missing)}; the first line must name "
                              f"the columns {','.join(COLUMNS)}")
    return {name: names.index(name) for name in COLUMNS if name in names}


def _rows(reader: Any, parsed: Parsed) -> Iterator[tuple[int, list[str]]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            parsed.count += 1
            parsed.error(reader.line_num, "*", f"not valid CSV: {exc}")
            continue
        if any(value.strip() for value in row):
            yield reader.line_num, row


def _line(number: int, header: dict[str, int], row: list[str], parsed: Parsed, *, now: datetime) -> Line | None:
    width = max(header.values()) + 1
    if len(row) < width:
        parsed.error(number, "*", f"{len(row)} fields where the header names {width}")
        return None
    values = {name: row[index].strip() for name, index in header.items()}
    try:
        return _validated(number, values, now=now)
    except CaseError as exc:
        parsed.error(number, exc.field, exc.message)
        return None


def _validated(number: int, values: dict[str, str], *, now: datetime) -> Line:
    reference = values["case_reference"].upper()
    if not reference:
        raise CaseError("case_reference", "empty")
    code = parse_outcome(values["outcome"])
    if code is None:
        raise CaseError("outcome", f"unknown value {values['outcome']!r}; use one of {', '.join(OutcomeCode.values)}")
    decided_on = _date(values["date"])
    reason = values.get("reason", "")
    if reason:
        reason = parse_reason(reason) or _unknown_reason(reason)
    check_outcome(code, decided_on, reason, values.get("note", ""), now=now)
    return Line(number, reference, code, decided_on, reason, values.get("note", ""))


def _unknown_reason(text: str) -> str:
    raise CaseError("reason", f"unknown value {text!r}")


def _date(text: str) -> date:
    try:
        if match := _DMY.match(text):
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        raise CaseError("date", f"{text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)") from None


# --- 2. applying it (one transaction) -------------------------------------------------------------------


def _apply(parsed: Parsed, within: CaseQuerySet, *, filename: str, sha256: str, actor: Actor,
           now: datetime) -> OutcomeImport:
    batch = OutcomeImport.objects.create(filename=filename[:255], sha256=sha256, imported_at=now,
                                         imported_by_id=actor.user_id, actor_label=actor.label, lines=parsed.count)
    cases = _locked_cases(within, {line.reference for line in parsed.lines})
    seen = _existing(cases.values())
    new: list[Outcome] = []
    for line in parsed.lines:
        result = _outcome_for(line, cases, seen, parsed)
        if result is EXISTING:
            batch.existing += 1
        elif isinstance(result, Outcome):
            result.recorded_at, result.recorded_by_id, result.recorded_by_label = now, actor.user_id, actor.label
            result.import_batch = batch
            new.append(result)
    Outcome.objects.bulk_create(new)
    parsed.errors.sort(key=lambda error: error["line"])
    batch.created, batch.error_count, batch.errors = len(new), len(parsed.errors), parsed.errors[:ERRORS_KEPT]
    batch.save(update_fields=["created", "existing", "error_count", "errors"])
    record_many(actor, [*(outcome_change(outcome) for outcome in new), Change(
        actions.OUTCOMES_IMPORTED, batch, after={"file": batch.filename, "sha256": sha256, "lines": batch.lines,
                                                 "created": batch.created, "existing": batch.existing,
                                                 "errors": batch.error_count})], now=now)
    return batch


def _locked_cases(within: CaseQuerySet, references: set[str]) -> dict[str, Case]:
    """The named cases, row-locked in pk order (so two imports never deadlock), by reference."""
    found: dict[str, Case] = {}
    ordered = sorted(references)
    for start in range(0, len(ordered), 500):
        chunk = within.filter(reference__in=ordered[start:start + 500]).order_by("pk").select_for_update()
        found.update((case.reference, case) for case in chunk)
    return found


def _existing(cases: Any) -> dict[tuple[int, str, date], str]:
    """(case, outcome, date) -> reason of every outcome already recorded on these cases."""
    ids = [case.pk for case in cases]
    seen: dict[tuple[int, str, date], str] = {}
    for start in range(0, len(ids), 500):
        rows = Outcome.objects.filter(case_id__in=ids[start:start + 500])
        seen.update(((c, code, on), reason) for c, code, on, reason in
                    rows.values_list("case_id", "code", "decided_on", "reason"))
    return seen


EXISTING = object()


def _outcome_for(line: Line, cases: dict[str, Case], seen: dict[tuple[int, str, date], str],
                 parsed: Parsed) -> Outcome | object | None:
    """A new (unsaved) outcome for the line, EXISTING when it is already recorded, or None on an error."""
    case = cases.get(line.reference)
    if case is None:
        parsed.error(line.number, "case_reference", f"no case {line.reference}")
        return None
    key = (case.pk, line.code, line.decided_on)
    if key in seen:
        if seen[key] == line.reason:
            return EXISTING
        parsed.error(line.number, "reason", f"{line.code} on {line.decided_on.isoformat()} is already recorded "
                     f"for {case.reference} with reason {seen[key] or '(none)'}; line not applied")
        return None
    seen[key] = line.reason
    return Outcome(case=case, code=line.code, reason=line.reason, decided_on=line.decided_on,
                   source=OutcomeSource.CSV, note=line.note)
