"""CSV hash lists: a header row, one record per row (or one column per signal type).

No Django here (see ``hotline.lib.hashlists``)."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import IO, Final

from hotline.lib.hashlists.records import (
    MAX_VPDQ_CHARS,
    SCHEME_CSV,
    SIGNAL_TYPES,
    HashRecord,
    InvalidRecord,
    LineError,
    ParseItem,
    _refused,
    _show,
    map_verdict,
)

CSV_COLUMNS: Final = ("signal_type", "value", "classification", "scheme", "quality", "source_id")
_CSV_META = ("classification", "scheme", "quality", "source_id")
#: Per-cell limit for the csv module (global setting, raised to at least this): a vPDQ fits.
MAX_CSV_FIELD: Final = MAX_VPDQ_CHARS + 1000
_QUALITY = re.compile(r"[0-9]{1,3}")


class _CappedLines:
    """Feeds ``csv.reader`` one physical line at a time, never more than ``MAX_CSV_FIELD`` * 4
    characters; an overlong line is replaced by an empty one and its number remembered."""

    limit: Final = MAX_CSV_FIELD * 4

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.number = 0
        self.overlong: list[int] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(self.limit)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) < self.limit or line.endswith(("\n", "\r")):
            return line
        while True:
            rest = self.stream.readline(self.limit)
            if not rest or rest.endswith(("\n", "\r")):
                break
        self.overlong.append(self.number)
        return "\n"


def _parse_quality(raw: str) -> int | None:
    if not raw:
        return None
    if not _QUALITY.fullmatch(raw):
        raise InvalidRecord("quality", f"a quality is a whole number 0-100, got {_show(raw)}")
    return int(raw)


def parse_csv(text: IO[str], *, accept: Collection[str] = SIGNAL_TYPES) -> Iterator[ParseItem]:
    """Records from a CSV with a header line.

    Either ``signal_type,value`` columns (one record per row) or per-type columns named after the
    signal types (``md5,sha1,sha256,pdq``, also ``video_md5,vpdq``: one record per non-empty cell).
    Optional in both: ``classification, scheme, quality, source_id`` (``quality`` belongs to the
    pdq value of the row). Column names are matched case-insensitively; other columns go to
    ``extra`` under their header name, empty cells omitted. A row without ``scheme`` gets
    ``scheme="csv"``. Open files with ``newline=""`` so quoted line breaks survive. A known type
    outside ``accept`` (what the caller can store) is an error on its line.
    """
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    source = _CappedLines(text)
    reader = csv.reader(source)
    header: list[str] | None = None
    names: list[str] = []
    per_type = False
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            yield LineError(start, "*", f"not valid text ({exc.reason}); reading stopped")
            return
        except csv.Error as exc:
            if reader.line_num <= last_line:
                yield LineError(start, "*", f"not valid CSV ({exc}); reading stopped")
                return
            last_line = reader.line_num
            source.overlong.clear()
            yield LineError(start, "*", f"not valid CSV: {exc}")
            continue
        last_line = reader.line_num
        if source.overlong:
            yield LineError(source.overlong[0], "*", f"line longer than {_CappedLines.limit} characters")
            source.overlong.clear()
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lstrip("\ufeff").strip() for cell in row]
            names = [name.lower() for name in header]
            problem = _check_header(names)
            if problem:
                yield LineError(start, "header", problem)
                return
            per_type = "signal_type" not in names
            continue
        if len(row) > len(header):
            yield LineError(start, "*", f"{len(row)} cells but the header has {len(header)} columns")
            continue
        cells = {names[i]: row[i] for i in range(len(row)) if names[i]}
        extra = {header[i]: row[i] for i in range(len(row))
                 if names[i] and names[i] not in CSV_COLUMNS and names[i] not in SIGNAL_TYPES and row[i] != ""}
        yield from _csv_row(cells, extra, start, per_type, names, accept)


def _check_header(names: list[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            return f"column {_show(name)} appears twice"
        seen.add(name)
    has_pair = "signal_type" in seen and "value" in seen
    type_columns = seen.intersection(SIGNAL_TYPES)
    if has_pair and type_columns:
        return "use either 'signal_type,value' or per-type columns (md5, sha1, sha256, pdq, ...), not both"
    if not has_pair and not type_columns:
        if "signal_type" in seen or "value" in seen:
            return "the columns 'signal_type' and 'value' go together"
        return "the first line must be a header with 'signal_type,value' or per-type columns (md5, sha1, sha256, pdq)"
    return ""


def _csv_row(cells: dict[str, str], extra: dict[str, str], line: int, per_type: bool,
             names: list[str], accept: Collection[str]) -> Iterator[ParseItem]:
    classification = cells.get("classification", "").strip()
    scheme = cells.get("scheme", "").strip() or SCHEME_CSV
    source_id = cells.get("source_id", "").strip()
    mapped = map_verdict(scheme, classification)
    try:
        quality = _parse_quality(cells.get("quality", "").strip())
    except InvalidRecord as exc:
        yield LineError(line, "quality", exc.message)
        return
    if per_type:
        pairs = [(name, cells[name]) for name in names if name in SIGNAL_TYPES and cells.get(name, "").strip()]
        if not pairs:
            yield LineError(line, "*", "no hash in this row")
            return
        if quality is not None and not any(name == "pdq" for name, _ in pairs):
            yield LineError(line, "quality", "a quality but no pdq value in this row")
            return
    else:
        signal_type = cells.get("signal_type", "").strip()
        if not signal_type:
            yield LineError(line, "signal_type", "empty")
            return
        pairs = [(signal_type, cells.get("value", ""))]
    for signal_type, value in pairs:
        column = signal_type if per_type else "value"
        name = signal_type.strip().lower()
        if name in SIGNAL_TYPES and name not in accept:
            yield LineError(line, signal_type if per_type else "signal_type", _refused(name, accept))
            continue
        try:
            yield HashRecord(
                signal_type, value, classification=classification, scheme=scheme, mapped_verdict=mapped,
                quality=quality if (not per_type or signal_type == "pdq") else None,
                source_id=source_id, extra=extra,
            )
        except InvalidRecord as exc:
            yield LineError(line, column if exc.field == "value" else exc.field, exc.message)


def write_csv(records: Iterable[HashRecord], out: IO[str], *, extra_columns: Sequence[str] = ()) -> int:
    """Write ``signal_type,value,classification,scheme,quality,source_id`` plus ``extra_columns``.

    A streaming writer cannot know every ``extra`` key in advance, so only the keys named in
    ``extra_columns`` are written (a missing key is an empty cell); other ``extra`` keys are left
    out. ``mapped_verdict`` is not written: the reader derives it from scheme and classification.
    Cells are written as they are (no spreadsheet-formula escaping, which would change the data).
    Returns the number of records written.
    """
    columns = list(extra_columns)
    lowered = [name.strip().lower() for name in columns]
    if len(set(lowered)) != len(lowered):
        raise ValueError("extra_columns repeats a name")
    clash = [name for name in lowered if not name or name in CSV_COLUMNS or name in SIGNAL_TYPES]
    if clash:
        raise ValueError(f"extra_columns cannot be empty or reuse a standard name: {clash}")
    if any(name != name.strip() for name in columns):
        raise ValueError("extra_columns names cannot have surrounding spaces")
    writer = csv.writer(out)  # CRLF, and fields holding a CR or LF quoted: open files with newline=""
    writer.writerow([*CSV_COLUMNS, *columns])
    count = 0
    for record in records:
        writer.writerow([
            record.signal_type, record.value, record.classification, record.scheme,
            "" if record.quality is None else str(record.quality), record.source_id,
            *(record.extra.get(name, "") for name in columns),
        ])
        count += 1
    return count
