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


def insert_or_find(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, unique: str
) -> tuple[dict[Any, int], set[Any]]:
    """Ids of ``rows`` by their ``unique`` field value, inserting the rows whose value does not exist
    yet; and the values this call inserted. Rows are inserted in ``unique`` order.

    PostgreSQL: the rows are streamed with ``COPY`` into a temporary staging table (no per-value
    parameter quoting in Python), then one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``
    and one join read the ids. A row that another transaction is inserting at the same moment waits
    for it and is found as existing if it commits, so concurrent batches never fail on each other's
    new rows; inserting in one order means two batches wait for each other instead of deadlocking.
    Elsewhere (SQLite, one writer at a time): a look-up, then a plain bulk insert."""
    if not rows:
        return {}, set()
    key_field = next(f for f in _fields(model) if f.name == unique)
    attname = key_field.attname
    rows = sorted(rows, key=lambda row: row[attname])
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
        with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for values in _db_rows(model, rows):
                copy.write_row(values)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} s "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = s.{key}) ORDER BY s.{key} "
            f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
        )
        created = {row[0] for row in cursor.fetchall()}
        # A new statement sees this transaction's rows and those a concurrent one committed meanwhile.
        cursor.execute(f"SELECT t.{key}, t.id FROM {table} t JOIN {stage} s ON t.{key} = s.{key}")  # noqa: S608
        return dict(cursor.fetchall()), created
