"""One plain query with as little as possible around it: the PDQ look-up's, and every compiled query of
:mod:`hotline.lib.prepared` (the steps' hot reads and writes).

Django's ``connection.cursor()`` and ``cursor.execute`` cost more than a one-row read by primary key takes
in SQLite: the connection proxy (an ``asgiref`` local, looked up on every attribute), a new cursor and its
wrapper, the execute wrappers, the ``%s`` to ``?`` rewrite of the SQL, the error wrapping. On the product's
look-up with a hit (the query that describes the entries found, which is also what guarantees a disabled
entry is never reported) that was about half of the hit's cost.

:func:`fetch_all` (a read) and :func:`execute` (a write: the rows it changed) run the SQL (``%s``
placeholders, as ``cursor.execute`` takes them) on the default database's own DB-API connection, with Django's
checks that matter kept: a broken transaction is refused, errors come out as ``django.db`` exceptions, and a
closed connection is opened by Django. Whenever something watches the queries (``DEBUG``,
``CaptureQueriesContext`` / ``assertNumQueries``, an ``execute_wrapper``), or on another backend than SQLite
and PostgreSQL, it goes through Django's cursor, so the query is logged and wrapped as any other. On
PostgreSQL the cursor of each SQL text is kept for the next call (see ``_pg_cursor``).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections

__all__ = ["execute", "fetch_all"]

_QMARK = re.compile(r"(?<!%)%s")  # as Django's SQLite backend rewrites the placeholders
_SQLITE_SQL: dict[str, str] = {}


def fetch_all(sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` with ``params`` on the default database, as ``cursor.fetchall()`` returns them.
    As with ``cursor.execute``: without ``params`` the SQL is run as it is (a ``%`` is a ``%``), with them
    each ``%s`` takes one and ``%%`` is a ``%``."""
    return cast(list[tuple[Any, ...]], _run(sql, params, rows=True))


def execute(sql: str, params: Sequence[Any] | None = None) -> int:
    """Run ``sql`` (a write) as :func:`fetch_all` runs a read; the number of rows it changed (``rowcount``)."""
    return cast(int, _run(sql, params, rows=False))


def _run(sql: str, params: Sequence[Any] | None, *, rows: bool) -> list[tuple[Any, ...]] | int:
    db = connections[DEFAULT_DB_ALIAS]
    raw = db.connection
    vendor = db.vendor
    if raw is None or db.queries_logged or db.execute_wrappers or vendor not in ("sqlite", "postgresql"):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if rows else int(cursor.rowcount)
    db.validate_no_broken_transaction()
    with db.wrap_database_errors:
        if vendor == "sqlite":
            if params is None:
                cursor = raw.execute(sql)
            else:
                text = _SQLITE_SQL.get(sql)
                if text is None:
                    text = _QMARK.sub("?", sql).replace("%%", "%")
                    if len(_SQLITE_SQL) < 512:  # a few constant texts (an IN list's per length): bounded all the same
                        _SQLITE_SQL[sql] = text
                cursor = raw.execute(text, params)
            return list(cursor.fetchall()) if rows else int(cursor.rowcount)
        cursor = _pg_cursor(raw, sql)
        cursor.execute(sql, params)
        if not rows:
            return int(cursor.rowcount)
        found = list(cursor.fetchall())
        if len(found) > _KEPT_ROWS:  # a kept cursor holds its last result: not a big one, for hours
            _PG_CURSORS[raw].pop(sql, None)
            cursor.close()
        return found


# PostgreSQL: one cursor per SQL text and connection, kept. A new psycopg cursor finds every parameter's dumper and
# every column's loader again (its own Transformer): ~14 us of client CPU of a ~54 us one-row read (bench/
# prepared_ab.py, docs/performance.md "Cursors kept"). The texts are the compiled queries' (a few hundred at most);
# past _KEPT the connection's kept cursors are closed and started again. Keyed by the DB-API connection (weakly): a
# connection Django reopens gets new cursors, and per thread, as Django's connections are. The cursors are the
# connection's cursor class, hotline.lib.pgbackend's lean one: its execute is shorter, but a new cursor still finds
# every dumper and loader again, so keeping them still pays (bench/pgcursor_ab.py, kept against new).
_PG_CURSORS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_KEPT = 512
_KEPT_ROWS = 256  # a cursor whose last result had more rows is closed, not kept (its cost was small beside it)


def _pg_cursor(raw: Any, sql: str) -> Any:
    kept = _PG_CURSORS.get(raw)
    if kept is None:
        kept = _PG_CURSORS[raw] = {}
    cursor = kept.get(sql)
    if cursor is None or cursor.closed:
        if len(kept) >= _KEPT:
            for old in kept.values():
                old.close()
            kept.clear()
        cursor = kept[sql] = raw.cursor()  # Django's own cursor class (the connection's cursor_factory)
    return cursor
