"""Django's psycopg cursor with a lean ``execute``: the query composed as psycopg's client-side binding composes
it, sent and its result read by one libpq ``PQexec`` (which waits with the GIL released), and the ``BEGIN`` that
psycopg sends ahead of a transaction's first query folded into that query's round trip.

Why: psycopg's ``execute`` drives a generator through its wait loop (poll, consume, get a result, look for
notifications, each a Python-level step): about a fifth of a one-row read's client CPU, and its ``BEGIN`` is a round
trip of its own. The server gets the bytes it got before (``BEGIN …; `` ahead of the first query of a transaction),
so what the SQL does, how its values are typed and what comes back are unchanged; rows, ``rowcount`` and
``description`` come from psycopg's own code on the result.

Anything unusual goes through psycopg's own ``execute``: a query that is not a ``str``, one with a ``;`` (several
statements, or a body), ``COPY``, ``prepare``/``binary``, pipeline mode, prepared statements enabled, a closed cursor
or a connection not OK. ``executemany``, ``copy``, ``stream`` and server-side cursors are psycopg's own.
:data:`SUPPORTED` is false when the installed psycopg lacks an internal used here; the backend then keeps Django's
cursor.

One difference remains: while ``PQexec`` waits for the server, a signal's Python handler runs only once the query
has returned (psycopg's own wait lets Ctrl-C cancel a long query). The worker's SIGTERM only asks it to stop after
the current step, so nothing changes there.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn, Self

import psycopg
from django.db.backends.postgresql import base
from psycopg import errors as e
from psycopg import pq

try:
    from psycopg._queries import PostgresClientQuery
    from psycopg.adapt import Transformer
except ImportError:  # another psycopg: the backend keeps Django's cursor
    PostgresClientQuery = Transformer = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from psycopg.abc import Params

    _DjangoCursor = psycopg.ClientCursor[Any]
else:
    _DjangoCursor = base.Cursor

__all__ = ["SUPPORTED", "LeanCursor", "fits"]

OK = pq.ConnStatus.OK
BAD = pq.ConnStatus.BAD
IDLE = pq.TransactionStatus.IDLE
TUPLES_OK = pq.ExecStatus.TUPLES_OK
COMMAND_OK = pq.ExecStatus.COMMAND_OK
EMPTY_QUERY = pq.ExecStatus.EMPTY_QUERY
FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
SQLSTATE = pq.DiagnosticField.SQLSTATE

_COPY = re.compile(r"\s*copy\b", re.IGNORECASE).match
_CURSOR_NEEDS = ("_reset", "_select_current_result", "_raise_for_result", "_last_query", "_tx", "_query",
                 "_results", "_pgconn", "_conn", "_closed")
_CONNECTION_NEEDS = ("_autocommit", "_pipeline", "_prepared", "lock")


def _supported() -> bool:
    slots = {name for klass in psycopg.ClientCursor.__mro__ for name in getattr(klass, "__slots__", ())}
    return (PostgresClientQuery is not None and all(name in slots or hasattr(psycopg.ClientCursor, name)
                                                    for name in _CURSOR_NEEDS)
            and hasattr(psycopg.Connection, "_get_tx_start_command") and hasattr(psycopg.Connection, "_exec_command")
            and hasattr(e, "_NO_TRACEBACK")
            and all(hasattr(pq.PGconn, name) for name in ("exec_", "notifies", "get_error_message")))


def fits(connection: psycopg.Connection[Any]) -> bool:
    """Whether ``connection`` (a new one) has what :class:`LeanCursor` reads (instance attributes)."""
    prepared = getattr(connection, "_prepared", None)
    return (SUPPORTED and all(hasattr(connection, name) for name in _CONNECTION_NEEDS)
            and hasattr(prepared, "prepare_threshold") and hasattr(prepared, "_to_flush"))


SUPPORTED = _supported()


class LeanCursor(_DjangoCursor):
    """Django's cursor (``CursorMixin`` + psycopg's ``ClientCursor``); ``execute`` as the module says."""

    def execute(self, query: Any, params: Params | None = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> Self:
        conn = self._conn
        if (type(query) is not str or prepare is not None or binary is not None or ";" in query
                or conn._pipeline is not None or conn._prepared.prepare_threshold is not None
                or conn._prepared._to_flush or _COPY(query)):
            return super().execute(query, params, prepare=prepare, binary=binary)
        try:
            with conn.lock:
                done = self._lean_execute(query, params)
        except e._NO_TRACEBACK as ex:
            raise ex.with_traceback(None) from None
        return self if done else super().execute(query, params)

    def _lean_execute(self, query: str, params: Params | None) -> bool:
        """What psycopg's ``_execute_gen`` does for a client-side cursor, outside pipeline mode; False (nothing
        done) if the cursor is closed or the connection is not OK, so that psycopg raises its own error."""
        pgconn = self._pgconn
        if self._closed or pgconn.status != OK:
            return False
        conn = self._conn
        self._reset()
        if not self._last_query or self._last_query is not query:
            self._last_query = None
            self._tx = Transformer(self)
        pgq = PostgresClientQuery(self._tx)
        pgq.convert(query, params)
        self._query = pgq
        if conn._autocommit or pgconn.transaction_status != IDLE:
            result = pgconn.exec_(pgq.query)
        else:
            result = self._exec_first(conn._get_tx_start_command(), pgq.query)
        while (notify := pgconn.notifies()) is not None:
            if pgconn.notify_handler:
                pgconn.notify_handler(notify)
        status = result.status
        if status != TUPLES_OK and status != COMMAND_OK and status != EMPTY_QUERY:
            self._raise(result)
        self._results.append(result)
        self._select_current_result(0)
        self._last_query = query
        return True

    def _exec_first(self, begin: bytes, query: bytes) -> pq.abc.PGresult:
        """The first query of a transaction, with its ``BEGIN``, in one round trip. The server parses the whole
        text before it runs any of it: if the query does not parse, nothing ran (the transaction is still idle),
        so the two are sent apart, as psycopg would, and the query's error leaves the transaction aborted."""
        pgconn = self._pgconn
        result = pgconn.exec_(begin + b"; " + query)
        if result.status == FATAL_ERROR and pgconn.transaction_status == IDLE and pgconn.status == OK:
            self._conn.wait(self._conn._exec_command(begin))
            result = pgconn.exec_(query)
        return result

    def _raise(self, result: pq.abc.PGresult) -> NoReturn:
        """psycopg's error for ``result``. ``PQexec`` returns the last result only: when the server closed the
        connection, that is libpq's own (no SQLSTATE) and the server's reason is in the connection's message."""
        if result.status == FATAL_ERROR and self._pgconn.status == BAD and not result.error_field(SQLSTATE):
            raise e.OperationalError(self._pgconn.get_error_message(self._encoding))
        self._raise_for_result(result)
