"""The database triggers that make audit events append-only (used by the migration and tests)."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

PG_INSTALL = [
    """CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION USING MESSAGE = 'audit events are append-only (' || TG_OP || ' refused)';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
]
PG_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_event_no_update ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]
SQLITE_INSTALL = [
    """CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only (DELETE refused)'); END""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
]


def _run(connection: BaseDatabaseWrapper, by_vendor: dict[str, list[str]]) -> None:
    with connection.cursor() as cursor:
        for statement in by_vendor.get(connection.vendor, []):
            cursor.execute(statement)


def install(connection: BaseDatabaseWrapper) -> None:
    _run(connection, {"postgresql": PG_INSTALL, "sqlite": SQLITE_INSTALL})


def remove(connection: BaseDatabaseWrapper) -> None:
    _run(connection, {"postgresql": PG_REMOVE, "sqlite": SQLITE_REMOVE})
