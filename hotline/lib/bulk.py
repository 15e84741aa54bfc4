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


def copy_insert(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (attribute name -> value) and return their new primary keys, in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)
        return [obj.pk for obj in created]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = set(rows[0])
    plan: list[tuple[str, Any, Any]] = []  # (attname, constant or _NO_DEFAULT, field to prepare or None)
    by_name = {f.attname: f for f in fields}
    for f in fields:
        prepare = None if type(f) in _PLAIN else f
        if f.attname in given or (f.has_default() and callable(f.default)):
            plan.append((f.attname, _NO_DEFAULT, prepare))
        else:
            value = f.get_default()
            plan.append((f.attname, f.get_db_prep_save(value, connection) if prepare else value, None))
    ids = reserve_ids(model, len(rows))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(
        f"COPY {connection.ops.quote_name(model._meta.db_table)} (id, {columns}) FROM STDIN"
    ) as copy:
        for pk, row in zip(ids, rows, strict=True):
            out: list[Any] = [pk]
            for attname, constant, prepare in plan:
                if constant is not _NO_DEFAULT:
                    out.append(constant)
                    continue
                value = row[attname] if attname in row else by_name[attname].get_default()
                if prepare is not None:
                    value = prepare.get_db_prep_save(value, connection)
                    if hasattr(value, "obj"):  # psycopg Jsonb wrapper from a JSONField
                        value = json.dumps(value.obj)
                out.append(value)
            copy.write_row(out)
    return ids
