"""Importing the partner directory (hotlines and police contacts) from JSON or CSV: every valid record is
saved through the services (audited), every invalid one reported by line and field; and the demo directory."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.forms import Form

from hotline.audit.services import SYSTEM, Actor
from hotline.lib import signing, textguard
from hotline.partners.forms import HotlineForm, PoliceForm
from hotline.partners.models import PartnerHotline, PoliceContact
from hotline.partners.services import HOTLINE_FIELDS, POLICE_FIELDS, field_changes, save_hotline, save_police

DEMO_DIRECTORY = Path(__file__).resolve().parent / "data" / "demo_directory.json"
MAX_ERRORS = 1000


# ------------------------------------------------------------------------------ importing


@dataclass(frozen=True)
class RowError:
    where: str  # "line 4" (CSV) or "hotlines[2]" (JSON)
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: field '{self.field}': {self.message}"


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class _Row:
    where: str
    record: str  # "hotline" or "police"
    values: dict[str, Any]


def import_directory(data: bytes | str, *, fmt: str, actor: Actor) -> ImportSummary:
    """Import a JSON or CSV directory; each valid record is stored on its own, invalid ones reported."""
    summary = ImportSummary()
    text = data.decode("utf-8-sig", "replace") if isinstance(data, bytes) else data
    try:
        rows = list(_json_rows(text) if fmt == "json" else _csv_rows(text))
    except ValueError as exc:
        summary.errors.append(RowError("file", "-", str(exc)))
        return summary
    for row in rows:
        if isinstance(row, RowError):
            _add_error(summary, row)
        else:
            _import_row(row, summary, actor)
    return summary


def _add_error(summary: ImportSummary, error: RowError) -> None:
    if len(summary.errors) < MAX_ERRORS:
        summary.errors.append(error)


def _import_row(row: _Row, summary: ImportSummary, actor: Actor) -> None:
    if row.record == "hotline":
        existing: Any = PartnerHotline.objects.filter(code=str(row.values.get("code", "")).strip()).first()
        form: Form = HotlineForm(_form_data(row.values, HOTLINE_FIELDS), instance=existing)
    else:
        existing = _police_match(row.values)
        form = PoliceForm(_form_data(row.values, POLICE_FIELDS))
    if not form.is_valid():
        name, messages = next(iter(form.errors.items()))
        _add_error(summary, RowError(row.where, name if name != "__all__" else "-", str(messages[0])))
        return
    names = HOTLINE_FIELDS if row.record == "hotline" else POLICE_FIELDS
    if existing is not None and not field_changes(existing, form.cleaned_data, names):
        summary.unchanged += 1
        return
    if row.record == "hotline":
        save_hotline(form.cleaned_data, actor=actor, hotline=existing)
    else:
        save_police(form.cleaned_data, actor=actor, contact=existing)
    if existing is None:
        summary.created += 1
    else:
        summary.updated += 1


def _police_match(values: dict[str, Any]) -> PoliceContact | None:
    return PoliceContact.objects.filter(country=str(values.get("country", "")).strip().upper(),
                                        kind=str(values.get("kind", "")).strip(),
                                        name=str(values.get("name", "")).strip()).first()


def _form_data(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        if name == "active":
            data[name] = _truthy(value)
        elif isinstance(value, list):
            data[name] = " ".join(str(v) for v in value)
        elif value is not None:
            data[name] = str(value)
    # Lone surrogates (possible in JSON text) cannot be stored as UTF-8: they become "?".
    return {k: v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v for k, v in data.items()}


def _truthy(value: Any) -> bool:
    if value is None or value == "":
        return True  # a record is active unless it says otherwise
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _json_rows(text: str) -> list[_Row | RowError]:
    try:
        data = textguard.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError('the file must be an object with "hotlines" and/or "police" lists')
    rows: list[_Row | RowError] = []
    for key, record_ in (("hotlines", "hotline"), ("police", "police")):
        entries = data.get(key, [])
        if not isinstance(entries, list):
            rows.append(RowError(key, key, "must be a list"))
            continue
        for index, entry in enumerate(entries):
            where = f"{key}[{index}]"
            rows.append(_Row(where, record_, entry) if isinstance(entry, dict) else RowError(where, "-",
                                                                                              "must be an object"))
    return rows


def _csv_rows(text: str) -> list[_Row | RowError]:
    problem = textguard.csv_header_problem(text.partition("\n")[0])
    if problem is not None:
        raise ValueError(f"not a CSV file ({problem})")
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ValueError(f"not a CSV file (line 1: {exc})") from None
    if not fieldnames or "record" not in [f.strip() for f in fieldnames]:
        raise ValueError("the first line must be a header with a 'record' column (hotline or police)")
    rows: list[_Row | RowError] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # the reader goes on with the next line
            # DictReader.line_num is only updated after a good row; its inner reader's counts this one.
            rows.append(RowError(f"line {reader.reader.line_num}", "-", f"not valid CSV: {exc}"))
            continue
        where = f"line {reader.line_num}"
        clean = {(k or "").strip(): (v or "").strip() for k, v in values.items() if isinstance(v, str)}
        kind = clean.get("record", "").lower()
        if kind not in ("hotline", "police"):
            rows.append(RowError(where, "record", "must be 'hotline' or 'police'"))
            continue
        rows.append(_Row(where, kind, clean))
    return rows


# ------------------------------------------------------------------------------ the demo directory


def demo_private_key(code: str) -> str:
    """The private key of an invented demo partner (derived from its code: worthless anywhere else)."""
    return signing.derived_private_b64(code, "demo-partner")


def load_demo_directory(*, actor: Actor = SYSTEM) -> ImportSummary:
    """Load the synthetic demo directory (invented hotlines, loopback endpoints); idempotent."""
    return import_directory(DEMO_DIRECTORY.read_bytes(), fmt="json", actor=actor)
