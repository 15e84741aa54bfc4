"""Fast bulk inserts: PostgreSQL ``COPY`` with ids reserved up front; ``bulk_create`` elsewhere.

``bulk_create`` builds one model instance and prepares every field of every row in Python; for
thousands of rows that costs more than the database's own work. ``copy_insert`` takes plain dicts
of attribute values, reserves the primary keys from the table's sequence in one query, and streams
the rows with ``COPY``. Fields a row leaves out get the field's default (callable defaults are
called per row, as Django would); field types psycopg cannot adapt directly (encrypted or JSON
fields) go through ``get_db_prep_save``. ``insert_or_find`` is the deduplicating insert of batch
intake: the rows whose unique value is new are inserted, the ids of all are returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from itertools import repeat
from typing import Any

from django.db import connection, models

# Field classes whose Python values psycopg writes as they are (exact classes: subclasses such as
# encrypted text fields transform their value and are prepared by Django).
_PLAIN: tuple[type[models.Field[Any, Any]], ...] = (
    models.CharField, models.TextField, models.IntegerField, models.BigIntegerField, models.SmallIntegerField,
    models.PositiveIntegerField, models.PositiveBigIntegerField, models.PositiveSmallIntegerField,
    models.BooleanField, models.DateTimeField, models.ForeignKey, models.BigAutoField, models.AutoField,
)


def reserve_ids(model: type[models.Model], n: int) -> list[int]:
    """``n`` fresh primary keys from the table's sequence (PostgreSQL), in increasing order."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        # The sequence is looked up once (a materialised CTE): pg_get_serial_sequence() called per row cost
        # ten times the nextval() itself, about 3 µs of database CPU per id.
        cursor.execute("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
                       "SELECT nextval(s.seq) FROM s, generate_series(1, %s)", [table, n])
        return sorted(row[0] for row in cursor.fetchall())


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


# COPY text format: a backslash, tab, newline or carriage return inside a value is escaped; NULL is \\N.
COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_NULL = "\\N"


def _escape(match: re.Match[str]) -> str:
    return _COPY_ESCAPES[match.group()]


def copy_text(value: str | None) -> str:
    """``value`` as one field of a PostgreSQL ``COPY … FROM STDIN`` line (text format)."""
    if value is None:
        return _NULL
    return COPY_SPECIAL.sub(_escape, value) if COPY_SPECIAL.search(value) else value


def copy_texts(values: list[str | None]) -> list[str]:
    """``copy_text`` of each value; one scan of them all when none needs escaping (the usual case)."""
    if None not in values and not COPY_SPECIAL.search("".join(values)):  # type: ignore[arg-type]
        return values  # type: ignore[return-value]
    return [copy_text(value) for value in values]


def _copy_any(value: Any) -> str:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return copy_text(str(value))


_TEXT_FIELDS = (models.CharField, models.TextField)
_INT_FIELDS = tuple(kind for kind in _PLAIN if kind not in (*_TEXT_FIELDS, models.BooleanField, models.DateTimeField))


def _column(field: models.Field[Any, Any], rows: Sequence[dict[str, Any]], given: set[str]) -> str | list[str]:
    """One column of ``rows`` as COPY text: the text of every row, or one text if it is the same for all."""
    attname, kind = field.attname, type(field)
    prepare = kind not in _PLAIN
    if attname not in given and not (field.has_default() and callable(field.default)):
        value = field.get_default()
        return _copy_any(_prepared(field, value) if prepare else value)
    if attname in given and not prepare:
        values = [row[attname] for row in rows]
    else:
        values = [row[attname] if attname in row else field.get_default() for row in rows]
        if prepare:
            return [_copy_any(_prepared(field, value)) for value in values]
    if kind in _TEXT_FIELDS:
        return copy_texts(values)
    if kind in _INT_FIELDS:
        return [_NULL if value is None else str(int(value)) for value in values]
    if kind is models.DateTimeField:
        stamps: dict[datetime, str] = {}  # a batch's rows share a few time stamps: format each once
        out = []
        for value in values:
            text = stamps.get(value) if value is not None else _NULL
            if text is None:
                text = stamps[value] = value.isoformat()
            out.append(text)
        return out
    return [_copy_any(value) for value in values]


def _db_lines(model: type[models.Model], rows: Sequence[dict[str, Any]], ids: Sequence[int] | None = None) -> str:
    """Every non-key column of every row (defaults filled in as Django would) as COPY text lines,
    each preceded by the row's id if ``ids`` are given. Built column by column as text: psycopg's
    ``write_row`` dumps each value of each row through its adapters, several µs per row."""
    given = set(rows[0])
    columns = [_column(f, rows, given) for f in _fields(model)]
    if ids is not None:
        columns.insert(0, [str(int(pk)) for pk in ids])
    n = len(rows)
    lines = list(map("\t".join, zip(*[repeat(c, n) if isinstance(c, str) else c for c in columns], strict=True)))
    lines.append("")
    return "\n".join(lines)


def _prepared(field: models.Field[Any, Any], value: Any) -> Any:
    value = field.get_db_prep_save(value, connection)
    if hasattr(value, "obj"):  # psycopg Jsonb wrapper from a JSONField: COPY takes the JSON text
        value = json.dumps(value.obj)
    return value


def copy_lines(cursor: Any, sql: str, text: str) -> None:
    """Stream ``text`` (COPY text lines) with ``sql`` (a ``COPY … FROM STDIN``), in large pieces."""
    with cursor.copy(sql) as copy:
        for start in range(0, len(text), _COPY_PIECE):
            copy.write(text[start : start + _COPY_PIECE])


_COPY_PIECE = 1 << 20


def copy_insert(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (attribute name -> value) and return their new primary keys, in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)
        return [obj.pk for obj in created]
    ids = reserve_ids(model, len(rows))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in _fields(model))
    with connection.wrap_database_errors, connection.cursor() as cursor:
        copy_lines(cursor, f"COPY {connection.ops.quote_name(model._meta.db_table)} (id, {columns}) FROM STDIN",
                   _db_lines(model, rows, ids))
    return ids


def insert_or_find(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, unique: str
) -> tuple[dict[Any, int], set[Any]]:
    """Ids of ``rows`` by their ``unique`` field value, inserting the rows whose value does not exist
    yet; and the values this call inserted. Rows are inserted in ``unique`` order.

    PostgreSQL: the rows are streamed with ``COPY`` into a temporary staging table (no per-value
    parameter quoting in Python); one query reads the ids of those that exist, one ``INSERT … SELECT …
    ON CONFLICT DO NOTHING RETURNING`` inserts the others (and, only if a concurrent batch inserted
    some of them meanwhile, the look-up runs again). A row that another transaction is inserting at the
    same moment waits for it and is found as existing if it commits, so concurrent batches never fail on
    each other's new rows; inserting in one order means two batches wait for each other instead of
    deadlocking.
    Elsewhere (SQLite, one writer at a time): a look-up, then a plain bulk insert."""
    if not rows:
        return {}, set()
    key_field = next(f for f in _fields(model) if f.name == unique)
    attname = key_field.attname
    rows = sorted(rows, key=lambda row: row[attname])
    wanted = len({row[attname] for row in rows})
    if connection.vendor != "postgresql":
        values = [row[attname] for row in rows]
        found: dict[Any, int] = {}
        manager = model._default_manager
        for start in range(0, len(values), 1000):
            found.update(manager.filter(**{f"{unique}__in": values[start : start + 1000]}).values_list(unique, "pk"))
        new = [row for row in rows if row[attname] not in found]
        inserted = dict(zip([row[attname] for row in new], copy_insert(model, new), strict=True))
        return found | inserted, set(inserted)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    stage = quote(f"stage_{model._meta.db_table}")
    columns = ", ".join(quote(f.column) for f in _fields(model))
    key = quote(key_field.column)
    # Table, column names and types come from the model, never from input.
    with connection.wrap_database_errors, connection.cursor() as cursor:
        # Created once per session; emptied at every commit (and here, for a second call in one transaction).
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
                       f"SELECT {columns} FROM {table} WITH NO DATA")
        cursor.execute(f"DELETE FROM {stage}")  # noqa: S608
        copy_lines(cursor, f"COPY {stage} ({columns}) FROM STDIN", _db_lines(model, rows))
        # Every look-up is a scalar subquery, one probe of the unique index per staged row. As a join (the
        # staging table has no statistics) the planner hashed the whole target table for every batch: a
        # sequential scan that grows with the table, 80 ms per batch at 28,000 items.
        lookup = f"SELECT s.{key}, (SELECT t.id FROM {table} t WHERE t.{key} = s.{key}) FROM {stage} s"  # noqa: S608
        cursor.execute(lookup)
        found = {value: pk for value, pk in cursor.fetchall() if pk is not None}
        if len(found) == wanted:
            return found, set()
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} s "  # noqa: S608
            f"WHERE (SELECT 1 FROM {table} t WHERE t.{key} = s.{key}) IS NULL ORDER BY s.{key} "
            f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}, id"
        )
        created = dict(cursor.fetchall())
        found |= created
        if len(found) < wanted:
            # Rows a concurrent batch inserted meanwhile (this INSERT waited for its commit and skipped
            # them): a new statement sees them.
            cursor.execute(lookup)
            found = {value: pk for value, pk in cursor.fetchall() if pk is not None}
        return found, set(created)
