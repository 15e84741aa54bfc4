"""Tables of figures: one shape for the dashboard, the CSV/JSON exports and the annual report.

Cells hold raw values (counts, shares as fractions, durations in seconds); formatting happens at the edge.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils.functional import Promise

from hotline.lib import numbers

# Column kinds: what a value means and how it is shown.
TEXT, COUNT, SHARE, SECONDS, CHANGE = "text", "count", "share", "seconds", "change"


class Suppressed:
    """A hidden cell: a count below the minimum shows as ``<N``; a count hidden only so that a smaller one
    cannot be worked back from a total, and any share or time resting on a hidden count, as ``*``."""

    def __init__(self, below: int, *, primary: bool = True) -> None:
        self.below, self.primary = below, primary

    def __str__(self) -> str:
        return f"<{self.below}" if self.primary else "*"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Suppressed) and (other.below, other.primary) == (self.below, self.primary)

    def __hash__(self) -> int:
        return hash(("suppressed", self.below, self.primary))


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    kind: str = COUNT
    # For derived cells (shares, durations): the count columns they rest on; hidden when one of them is.
    basis: tuple[str, ...] = ()
    # What an empty cell (None) reads as, for people; "-" unless the column says why it is empty.
    missing: str | Promise = "-"


@dataclass
class Table:
    name: str
    title: str | Promise
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str | Promise = ""

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def suppress(table: Table, minimum: int) -> Table:
    """Hide counts from 1 to ``minimum - 1`` and every cell derived from them.

    Within a count column, one hidden cell could be worked back from the published total, so the
    smallest other non-zero cell is hidden with it (secondary suppression).
    """
    if minimum <= 1:
        return table
    rows = [dict(row) for row in table.rows]
    for column in table.columns:
        if column.kind == COUNT:
            _suppress_column(rows, column.key, minimum)
    for column in table.columns:
        if column.basis:
            for row in rows:
                if any(_hidden(row.get(key), minimum) for key in column.basis):
                    row[column.key] = Suppressed(minimum, primary=False)
    return replace(table, rows=rows)


def _hidden(value: Any, minimum: int) -> bool:
    return isinstance(value, Suppressed) or (isinstance(value, int) and 0 < value < minimum)


def _suppress_column(rows: list[dict[str, Any]], key: str, minimum: int) -> None:
    primary = [row for row in rows if isinstance(row.get(key), int) and 0 < row[key] < minimum]
    for row in primary:
        row[key] = Suppressed(minimum)
    if len(primary) == 1 and len(rows) > 1:
        others = [row for row in rows if isinstance(row.get(key), int) and row[key] > 0]
        if others:
            min(others, key=lambda row: row[key])[key] = Suppressed(minimum, primary=False)


# ------------------------------------------------------------------ formatting for people


def duration(seconds: float | None) -> str:
    """``3 d 04:05`` / ``04:05`` (hours:minutes) for tables; ``-`` when there is nothing to show."""
    if seconds is None:
        return "-"
    total = round(seconds) // 60
    days, rest = divmod(total, 1440)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{days} d {text}" if days else text


def show(value: Any, kind: str, missing: str | Promise = "-") -> str:
    """One cell as people read it, in the active language's number format."""
    if isinstance(value, Suppressed):
        return str(value)
    if value is None:
        return str(missing)
    if kind == COUNT:
        return numbers.count(value)
    if kind == SHARE:
        return numbers.percent(value)
    if kind == CHANGE:
        return numbers.percent(value, signed=True)
    if kind == SECONDS:
        return duration(value)
    return str(value)


def display_rows(table: Table) -> list[list[str]]:
    return [[show(row.get(c.key), c.kind, c.missing) for c in table.columns] for row in table.rows]


# ------------------------------------------------------------------ machine exports


def raw(value: Any) -> Any:
    """A cell for CSV/JSON: numbers as numbers (shares as fractions, durations in seconds), ``"<5"`` if hidden."""
    if isinstance(value, Suppressed):
        return str(value)
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, Promise):
        return str(value)
    return value


def as_json(table: Table) -> dict[str, Any]:
    return {
        "title": str(table.title), "note": str(table.note),
        "columns": [{"key": c.key, "label": str(c.label), "kind": c.kind} for c in table.columns],
        "rows": [{c.key: raw(row.get(c.key)) for c in table.columns} for row in table.rows],
    }


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    value = raw(value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value  # a provider name from RDAP must not run as a spreadsheet formula
    return value


def as_csv(tables: Iterable[Table]) -> str:
    """CSV with one header row of column keys; several tables are separated by a ``# <name>`` line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    listed = list(tables)
    for n, table in enumerate(listed):
        if len(listed) > 1:
            if n:
                writer.writerow([])
            writer.writerow([f"# {table.name}"])
        writer.writerow([c.key for c in table.columns])
        for row in table.rows:
            writer.writerow([_cell(row.get(c.key)) for c in table.columns])
    return out.getvalue()
