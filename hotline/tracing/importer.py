"""Import the provider directory from CSV or JSON; the shipped CDN list uses the JSON form.

Each record is validated on its own and merged in its own transaction: a bad line is reported
(line or record number, field, message) and every valid line is kept.

CSV columns (header row required; only ``name`` is mandatory)::

    name,country,is_cdn,website,notes,asns,cidrs,contact_name,abuse_email,abuse_endpoint,channel,language,repeat_hours

``asns`` and ``cidrs`` hold several values separated by spaces or semicolons. Several lines with
the same name add up (e.g. one line per contact).

JSON: a list of provider objects, or ``{"providers": [...]}``; each object has the fields of
:class:`hotline.tracing.schema.ProviderIn` (``contacts`` a list of contact objects).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from hotline.audit.services import Actor
from hotline.lib import textguard
from hotline.tracing.providers import DATA_DIR
from hotline.tracing.schema import ProviderIn
from hotline.tracing.services import merge_provider

MAX_BYTES = 10 * 1024 * 1024
CSV_COLUMNS = ("name", "country", "is_cdn", "website", "notes", "asns", "cidrs", "contact_name", "abuse_email",
               "abuse_endpoint", "channel", "language", "repeat_hours")
_CONTACT_COLUMNS = {"name": "contact_name", "email": "abuse_email", "endpoint": "abuse_endpoint",
                    "channel": "channel", "language": "language", "repeat_hours": "repeat_hours"}
_TRUE, _FALSE = {"1", "true", "yes", "y", "x"}, {"", "0", "false", "no", "n"}


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    message: str
    unit: str = "line"  # "record" for JSON, whose records are counted, not lines

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.field}: {self.message}"


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    errors: list[LineError] = field(default_factory=list)


class _BadRow(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


def import_providers(stream: IO[bytes], *, fmt: str, actor: Actor, origin: str) -> ImportSummary:
    """Merge every valid record of a CSV or JSON file into the directory (``fmt``: csv or json)."""
    summary = ImportSummary()
    raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        summary.errors.append(LineError(0, "(file)", f"larger than {MAX_BYTES // (1024 * 1024)} MB"))
        return summary
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        summary.errors.append(LineError(0, "(file)", f"not {'a CSV' if fmt == 'csv' else 'a JSON'} file "
                                                      f"(line {line}: not UTF-8 text at byte {exc.start})"))
        return summary
    records = _csv_records(text) if fmt == "csv" else _json_records(text)
    for line, data, error in records:
        if error is not None:
            summary.errors.append(error)
            continue
        _apply(line, data, fmt=fmt, actor=actor, origin=origin, summary=summary)
    return summary


def _apply(line: int, data: dict[str, Any], *, fmt: str, actor: Actor, origin: str,
           summary: ImportSummary) -> None:
    unit = "line" if fmt == "csv" else "record"
    try:
        record = ProviderIn.model_validate(data)
    except ValidationError as exc:
        for problem in exc.errors():
            summary.errors.append(LineError(line, _field_name(problem["loc"], fmt), problem["msg"], unit))
        return
    try:
        _, created = merge_provider(record, actor=actor, origin=origin)
    except ValueError as exc:
        summary.errors.append(LineError(line, "(record)", str(exc), unit))
        return
    if created:
        summary.created += 1
    else:
        summary.updated += 1


def _field_name(loc: tuple[int | str, ...], fmt: str) -> str:
    parts = [str(p) for p in loc]
    if fmt == "csv":
        if parts[:1] == ["contacts"]:
            return _CONTACT_COLUMNS.get(parts[2], "abuse_email") if len(parts) > 2 else "abuse_email"
        return parts[0] if parts else "(line)"
    return ".".join(parts) or "(record)"


# ----------------------------------------------------------------------------------------- CSV


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any], LineError | None]]:
    problem = textguard.csv_header_problem(text.partition("\n")[0])
    if problem is not None:
        yield 1, {}, LineError(1, "(file)", f"not a CSV file ({problem})")
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in reader.fieldnames or []]
    except csv.Error as exc:
        yield 1, {}, LineError(1, "(file)", f"not a CSV file (line 1: {exc})")
        return
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if "name" not in header or unknown:
        message = f"unknown columns: {', '.join(unknown)}" if unknown else "the header row needs a 'name' column"
        yield 1, {}, LineError(1, "(header)", f"{message} (known: {', '.join(CSV_COLUMNS)})")
        return
    reader.fieldnames = header
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader goes on with the next line
            # DictReader.line_num is only updated after a good row; its inner reader's counts this one.
            line = reader.reader.line_num
            yield line, {}, LineError(line, "(line)", f"not valid CSV: {exc}")
            continue
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        try:
            yield line, _csv_record(row), None
        except _BadRow as exc:
            yield line, {}, LineError(line, exc.column, exc.message)


def _csv_record(row: dict[str | Any, Any]) -> dict[str, Any]:
    if None in row:
        raise _BadRow("(line)", "more values than columns")
    value = {k: (v or "").strip() for k, v in row.items()}
    record: dict[str, Any] = {k: value[k] for k in ("name", "country", "website", "notes") if k in value}
    flag = value.get("is_cdn", "").lower()
    if flag not in _TRUE | _FALSE:
        raise _BadRow("is_cdn", f"{flag!r} is not yes/no")
    record["is_cdn"] = flag in _TRUE
    record["asns"] = [_csv_asn(t) for t in re.split(r"[\s;]+", value.get("asns", "")) if t]
    record["cidrs"] = [t for t in re.split(r"[\s;]+", value.get("cidrs", "")) if t]
    if value.get("abuse_email") or value.get("abuse_endpoint"):
        contact: dict[str, Any] = {"name": value.get("contact_name", ""), "email": value.get("abuse_email", ""),
                                   "endpoint": value.get("abuse_endpoint", "")}
        contact["channel"] = value.get("channel") or ("email" if contact["email"] else "api")
        if value.get("language"):
            contact["language"] = value["language"]
        if value.get("repeat_hours"):
            if not value["repeat_hours"].isdigit():
                raise _BadRow("repeat_hours", f"{value['repeat_hours']!r} is not a whole number of hours")
            contact["repeat_hours"] = int(value["repeat_hours"])
        record["contacts"] = [contact]
    return record


def _csv_asn(token: str) -> int:
    digits = token.upper().removeprefix("AS")
    if not digits.isdigit():
        raise _BadRow("asns", f"{token[:40]!r} is not an AS number")
    return int(digits)


# ---------------------------------------------------------------------------------------- JSON


def _json_records(text: str) -> Iterator[tuple[int, dict[str, Any], LineError | None]]:
    try:
        data = textguard.loads(text)
    except ValueError as exc:
        yield 0, {}, LineError(0, "(file)", f"not JSON: {str(exc)[:200]}", "record")
        return
    if isinstance(data, dict) and "providers" in data:
        data = data["providers"]
    if not isinstance(data, list):
        yield 0, {}, LineError(0, "(file)", "expected a list of providers or {\"providers\": [...]}", "record")
        return
    for number, entry in enumerate(data, start=1):
        if isinstance(entry, dict):
            yield number, entry, None
        else:
            yield number, {}, LineError(number, "(record)", "not a JSON object", "record")


def load_cdns(*, actor: Actor, path: Path | None = None) -> ImportSummary:
    """Load (idempotently) the shipped list of CDN and reverse-proxy operators."""
    path = path or DATA_DIR / "cdns.json"
    with path.open("rb") as handle:
        return import_providers(handle, fmt="json", actor=actor, origin=path.name)
