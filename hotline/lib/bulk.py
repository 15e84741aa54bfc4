"""Fast bulk inserts: PostgreSQL ``COPY`` with ids reserved up front; ``bulk_create`` elsewhere.

``bulk_create`` builds one model instance and prepares every field of every row in Python; for
thousands of rows that costs more than the database's own work. ``copy_insert`` takes plain dicts
of attribute values, reserves the primary keys from the table's sequence in one query, and streams
the rows with ``COPY``. Fields a row leaves out get the field's default (callable defaults are
called per row, as Django would); field types psycopg cannot adapt directly (encrypted or JSON
fields) go through ``get_db_prep_save``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# Field classes whose Python values psycopg writes as they are (exact classes: subclasses such as
# encrypted text fields transform their value and are prepared by Django).
_PLAIN: tuple[type[models.Field[Any, Any]], ...] = (
    models.CharField, models.TextField, models.IntegerField, models.BigIntegerField, models.SmallIntegerField,
    models.PositiveIntegerField, models.PositiveBigIntegerField, models.PositiveSmallIntegerField,
    models.BooleanField, models.DateTimeField, models.ForeignKey, models.BigAutoField, models.AutoField,
)
_NO_DEFAULT = object()


def reserve_ids(model: type[models.Model], n: int) -> list[int]:
    """``n`` fresh primary keys from the table's sequence (PostgreSQL), in increasing order."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n])
        return sorted(row[0] for row in cursor.fetchall())


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _db_rows(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Database values of every non-key column, row by row (defaults filled in as Django would)."""
    fields = _fields(model)
    given = set(rows[0])
    plan: list[tuple[models.Field[Any, Any], Any, bool]] = []  # (field, constant or _NO_DEFAULT, prepare?)
    for f in fields:
        prepare = type(f) not in _PLAIN
        if f.attname in given or (f.has_default() and callable(f.default)):
            plan.append((f, _NO_DEFAULT, prepare))
        else:
            value = f.get_default()
            plan.append((f, _prepared(f, value) if prepare else value, False))
    out: list[list[Any]] = []
    for row in rows:
        values: list[Any] = []
        for f, constant, prepare in plan:
            if constant is not _NO_DEFAULT:
                values.append(constant)
                continue
            value = row[f.attname] if f.attname in row else f.get_default()
            values.append(_prepared(f, value) if prepare else value)
        out.append(values)
    return out


def _prepared(field: models.Field[Any, Any], value: Any) -> Any:
    value = field.get_db_prep_save(value, connection)
    if hasattr(value, "obj"):  # psycopg Jsonb wrapper from a JSONField: COPY takes the JSON text
        value = json.dumps(value.obj)
    return value


def copy_insert(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (attribute name -> value) and return their new primary keys, in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)
        return [obj.pk for obj in created]
    ids = reserve_ids(model, len(rows))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in _fields(model))
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(
        f"COPY {connection.ops.quote_name(model._meta.db_table)} (id, {columns}) FROM STDIN"
    ) as copy:
        for pk, values in zip(ids, _db_rows(model, rows), strict=True):
            copy.write_row([pk, *values])
    return ids


def insert_new(model: type[models.Model], rows: Sequence[dict[str, Any]], *, unique: str) -> dict[Any, int]:
    """Insert the rows whose ``unique`` field value does not exist yet; return {value: new id} for them.

    PostgreSQL: one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING``. A row that
    another transaction is inserting at the same moment waits for it and is skipped if it commits, so
    concurrent batches never fail on each other's new rows. Elsewhere (SQLite, one writer at a time)
    the caller has already looked the values up in this transaction: a plain bulk insert."""
    if not rows:
        return {}
    if connection.vendor != "postgresql":
        return dict(zip([row[unique] for row in rows], copy_insert(model, rows), strict=True))
    fields = _fields(model)
    columns = [f.column for f in fields]
    key = next(f.column for f in fields if f.name == unique)
    arrays = [list(column) for column in zip(*_db_rows(model, rows), strict=True)]
    casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    quote = connection.ops.quote_name
    # Table, column names and types come from the model, never from input.
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
           f"SELECT * FROM unnest({casts}) ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(key)}, id")
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return dict(cursor.fetchall())
