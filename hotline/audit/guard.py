"""The database triggers that make audit events and seals append-only (used by migrations and tests)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.backends.base.base import BaseDatabaseWrapper

# Table -> trigger name prefix. The events' triggers keep the names of the first migration.
TABLES = {"audit_auditevent": "audit_event", "audit_auditseal": "audit_seal"}
ALL = tuple(TABLES)

PG_FUNCTION = """CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION USING MESSAGE = 'audit events are append-only (' || TG_OP || ' refused)';
    END;
    $$ LANGUAGE plpgsql"""


def _pg_install(table: str) -> list[str]:
    return [f"""CREATE OR REPLACE TRIGGER {TABLES[table]}_no_update BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"""]


def _sqlite_install(table: str) -> list[str]:
    name = TABLES[table]
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {name}_no_update BEFORE UPDATE ON {table}
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS {name}_no_delete BEFORE DELETE ON {table}
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only (DELETE refused)'); END""",
    ]


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install(connection: BaseDatabaseWrapper, tables: Sequence[str] = ALL) -> None:
    if connection.vendor == "postgresql":
        _run(connection, [PG_FUNCTION, *(s for t in tables for s in _pg_install(t))])
    elif connection.vendor == "sqlite":
        _run(connection, [s for t in tables for s in _sqlite_install(t)])


def remove(connection: BaseDatabaseWrapper, tables: Sequence[str] = ALL) -> None:
    if connection.vendor == "postgresql":
        _run(connection, [f"DROP TRIGGER IF EXISTS {TABLES[t]}_no_update ON {t}" for t in tables])
        if set(tables) == set(ALL):
            _run(connection, ["DROP FUNCTION IF EXISTS audit_event_append_only()"])
    elif connection.vendor == "sqlite":
        ops = ("no_update", "no_delete")
        _run(connection, [f"DROP TRIGGER IF EXISTS {TABLES[t]}_{op}" for t in tables for op in ops])
