"""hotline.lib.pgbackend: Django's cursors on PostgreSQL are the lean ones, which send the server what Django's
own cursor sends (the first query of a transaction with its BEGIN, in one round trip) and give back the same rows,
row counts, descriptions and errors; transactions, savepoints, isolation levels, a lost connection, notices and
notifications behave as they did."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, OperationalError, connection, connections, transaction
from django.db.backends.postgresql.base import Cursor  # type: ignore[attr-defined]
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import pq

from hotline.cases.models import OutcomeImport
from hotline.conftest import TIMING_HEALTH_CHECKS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend"),
]
if connection.vendor == "postgresql":
    from hotline.lib.pgbackend.cursor import LeanCursor

IDLE, INTRANS, INERROR = pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR
NOW = datetime(2026, 12, 7, 18, 30, 15, 123456, tzinfo=UTC)
VALUES: list[Any] = [
    None, True, False, 0, -7, 2**31, 2**62, -(2**63), 1.5, -0.0, float("inf"), Decimal("12345678901234567890.125"),
    Decimal("NaN"), "", "it's", "back\\slash", "50% off %s %%", "ünïcødé ✓ 🙂", "line\nbreak\ttab", "\"double\"",
    b"", b"\x00\x01'\\\xff", memoryview(b"view"), bytearray(b"array"), date(2026, 12, 7), NOW,
    NOW.astimezone(ZoneInfo("Europe/Amsterdam")), timedelta(days=2, seconds=5, microseconds=7),
    uuid.UUID("12345678-1234-5678-1234-567812345678"), [1, 2, 3], ["a", "b'c", None], [], [[1, 2], [3, 4]],
]


def _raw() -> Any:
    connection.ensure_connection()
    return connection.connection


def _run(klass: type, sql: Any, params: Any = None) -> tuple[Any, ...]:
    """What a cursor of ``klass`` on Django's connection gives: rows, their Python types, the description, the row
    count and status; or the exception's class. In a savepoint rolled back, so that the test's transaction goes on
    and the other cursor finds the same rows."""
    cursor = klass(_raw())
    try:
        with transaction.atomic():
            cursor.execute(sql, params)
            description = None if cursor.description is None else [
                (column.name, column.type_code, column.display_size, column.internal_size, column.precision,
                 column.scale) for column in cursor.description]
            rows = cursor.fetchall() if description is not None else None
            types = None if rows is None else [[type(value) for value in row] for row in rows]
            transaction.set_rollback(True)  # the other cursor runs it on the same rows
            return rows, types, description, cursor.rowcount, cursor.statusmessage
    except psycopg.Error as exc:
        return (type(exc),)


def _same(sql: Any, params: Any = None) -> tuple[Any, ...]:
    stock = _run(Cursor, sql, params)
    assert repr(_run(LeanCursor, sql, params)) == repr(stock)  # repr: a NaN is not equal to itself
    return stock


@contextmanager
def _traced() -> Iterator[Callable[[], list[str]]]:
    """The Query messages the client sends meanwhile (libpq's trace of the connection)."""
    pgconn = _raw().pgconn
    with tempfile.TemporaryFile() as out:
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        sent: list[str] = []
        try:
            yield lambda: sent
        finally:
            pgconn.untrace()
            out.seek(0)
            sent += [line.split("\t", 3)[3].strip()[1:-1] for line in out.read().decode().splitlines()
                     if line.startswith("F\t") and line.split("\t")[2] == "Query"]


def test_djangos_cursors_are_lean_ones() -> None:
    with connection.cursor() as cursor:
        assert type(cursor.cursor) is LeanCursor
    assert connection.settings_dict["ENGINE"] == "hotline.lib.pgbackend"


@pytest.mark.parametrize("value", VALUES, ids=[f"{n}-{type(value).__name__}" for n, value in enumerate(VALUES)])
def test_a_value_comes_back_as_from_djangos_cursor(value: Any) -> None:
    rows, _types, description, rowcount, status = _same("SELECT %s AS v, %s IS NULL AS n", [value, value])
    assert (rowcount, status, description[0][0], rows[0][1]) == (1, "SELECT 1", "v", value is None)


@settings(suppress_health_check=[*TIMING_HEALTH_CHECKS], max_examples=60)
@given(st.text(), st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False)))
def test_any_text_and_number_come_back_as_from_djangos_cursor(text: str, number: Any) -> None:
    found = _same("SELECT %s::text, %s, length(%s)", [text, number, text])
    if "\x00" not in text:  # PostgreSQL text has no NUL: both cursors refuse it the same way
        [(back, number_back, length)] = found[0]
        assert (back, length) == (text, len(text))
        assert number_back == number or float(number_back) == number  # a float's literal reads as a numeric


def test_statements_of_every_kind_give_what_djangos_cursor_gives() -> None:
    _raw().execute("CREATE TEMP TABLE lean (id serial PRIMARY KEY, name text UNIQUE, at timestamptz)")
    _raw().execute("INSERT INTO lean (name, at) VALUES ('a', now()), ('b', NULL)")
    for sql, params in [
        ("INSERT INTO lean (name, at) VALUES (%s, %s), (%s, %s)", ["x", NOW, "y", None]),
        ("INSERT INTO lean (name) VALUES (%s) RETURNING name, at", ["c"]),
        ("UPDATE lean SET at = %s WHERE name <> %s", [NOW, "zzz"]),
        ("SELECT name, at FROM lean ORDER BY name", None),
        ("SELECT * FROM lean WHERE false", None),
        ("SELECT '5%'", None),
        ("SELECT '5%%', %s", [1]),
        ("SELECT %(a)s, %(b)s, %(a)s", {"a": 1, "b": "two"}),
        ("DELETE FROM lean WHERE name = %s", ["nobody"]),
        ("SELECT 1; SELECT 2", None),  # several statements: psycopg's own path
        ("", None),
        ("INSERT INTO lean (name) VALUES (%s)", ["a"]),  # unique violation
        ("SELECT 1 / %s", [0]),
        ("SELECT * FROM no_such_table", None),
        ("SELEC 1", None),
        ("SELECT %s", [1, 2]),
        ("SELECT %s", ["NUL \x00"]),
    ]:
        _same(sql, params)
    _same(psycopg.sql.SQL("SELECT {}").format(psycopg.sql.Literal("composed")))
    assert _same("SELECT %s", ["x" * 3_000_000])[0][0][0] == "x" * 3_000_000


def test_a_json_field_reads_and_filters_as_it_did() -> None:
    errors: list[Any] = [{"line": 3, "why": "it's \\ 50% \"bad\" ✓"}, None, [1.5, True]]
    saved = OutcomeImport.objects.create(filename="a.csv", sha256="0" * 64, imported_at=NOW, actor_label="x",
                                         errors=errors)
    assert OutcomeImport.objects.get(pk=saved.pk).errors == errors
    assert list(OutcomeImport.objects.filter(errors__contains=[{"line": 3}]).values_list("pk", flat=True)) == [
        saved.pk]
    assert OutcomeImport.objects.filter(errors__0__why=errors[0]["why"]).count() == 1


def test_an_integrity_error_is_djangos_and_its_savepoint_rolls_back() -> None:
    _raw().execute("CREATE TEMP TABLE lean_unique (name text UNIQUE)")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO lean_unique VALUES (%s)", ["one"])
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute("INSERT INTO lean_unique VALUES (%s)", ["two"])
            cursor.execute("INSERT INTO lean_unique VALUES (%s)", ["one"])
        cursor.execute("SELECT name FROM lean_unique ORDER BY name")
        assert cursor.fetchall() == [("one",)]


def test_a_notice_reaches_its_handler() -> None:
    raw = _raw()
    notices: list[str] = []
    raw.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary or ""))
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS no_such_lean_table")
    finally:
        raw._notice_handlers.clear()
    assert notices == ['table "no_such_lean_table" does not exist, skipping']


@pytest.mark.django_db(transaction=True)
class TestTransactions:
    """Outside the test's own transaction: what the first query of a transaction takes with it."""

    def test_the_begin_travels_with_the_first_query(self) -> None:
        with _traced() as sent, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT %s", ["it's"])
            cursor.execute("SELECT 2")
        assert sent() == ["BEGIN; SELECT 'it''s'", "SELECT 2", "COMMIT"]
        with _traced() as sent, connection.cursor() as cursor:  # autocommit: no BEGIN
            cursor.execute("SELECT %s", [3])
        assert sent() == ["SELECT 3"]

    def test_the_isolation_level_is_honoured(self) -> None:
        raw = _raw()
        raw.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        try:
            with _traced() as sent, transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                assert cursor.fetchall() == [("serializable",)]
            assert sent()[0] == "BEGIN ISOLATION LEVEL SERIALIZABLE; SHOW transaction_isolation"
        finally:
            raw.isolation_level = None
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            assert cursor.fetchall() == [("read committed",)]

    def test_nested_atomic_blocks_and_savepoints_commit_and_roll_back_as_before(self) -> None:
        with transaction.atomic():
            OutcomeImport.objects.create(filename="kept.csv", sha256="1", imported_at=NOW, actor_label="x")
            with pytest.raises(IntegrityError), transaction.atomic():
                OutcomeImport.objects.create(filename="gone.csv", sha256="2", imported_at=NOW, actor_label="x")
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO cases_outcomeimport (id) VALUES (NULL)")
            with transaction.atomic():
                OutcomeImport.objects.create(filename="inner.csv", sha256="3", imported_at=NOW, actor_label="x")
        assert _raw().info.transaction_status == IDLE
        assert sorted(OutcomeImport.objects.values_list("filename", flat=True)) == ["inner.csv", "kept.csv"]
        # the first query of the transaction fails
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO cases_outcomeimport (id) VALUES (NULL)")
        assert _raw().info.transaction_status == IDLE
        assert OutcomeImport.objects.count() == 2

    @pytest.mark.parametrize("klass", ["stock", "lean"])
    @pytest.mark.parametrize(("sql", "error"), [("SELEC 1", psycopg.errors.SyntaxError),
                                                ("SELECT 1 / 0", psycopg.errors.DivisionByZero)])
    def test_a_failing_first_query_leaves_the_transaction_aborted(self, klass: str, sql: str, error: type) -> None:
        """As psycopg's own BEGIN would: the transaction has begun, and refuses what follows until rolled back,
        also when the query did not parse (and the folded BEGIN did not run)."""
        raw = _raw()
        raw.autocommit = False
        try:
            cursor = (Cursor if klass == "stock" else LeanCursor)(raw)
            with pytest.raises(error):
                cursor.execute(sql)
            assert raw.info.transaction_status == INERROR
            with pytest.raises(psycopg.errors.InFailedSqlTransaction):
                cursor.execute("SELECT 1")
            raw.rollback()
            assert cursor.execute("SELECT %s", [5]).fetchall() == [(5,)]
            assert raw.info.transaction_status == INTRANS
            raw.rollback()
        finally:
            raw.autocommit = True

    def test_an_error_inside_atomic_leaves_the_connection_usable(self) -> None:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT 1 / %s", [0])
        assert _raw().info.transaction_status == IDLE
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT %s", [6])
            assert cursor.fetchall() == [(6,)]

    def test_a_notification_reaches_its_handler(self) -> None:
        raw = _raw()
        notified: list[tuple[str, str]] = []
        raw.add_notify_handler(lambda notify: notified.append((notify.channel, notify.payload)))
        other = connections.create_connection("default")
        try:
            with connection.cursor() as cursor:
                cursor.execute("LISTEN lean_channel")
                with other.cursor() as elsewhere:
                    elsewhere.execute("NOTIFY lean_channel, 'from elsewhere'")
                cursor.execute("SELECT %s", [1])
                cursor.execute("SELECT pg_notify(%s, %s)", ["lean_channel", "it's mine"])
                cursor.execute("UNLISTEN lean_channel")
        finally:
            other.close()
            raw._notify_handlers.clear()
        assert notified == [("lean_channel", "from elsewhere"), ("lean_channel", "it's mine")]

    @pytest.mark.parametrize("in_atomic", [False, True])
    def test_a_killed_backend_is_an_operational_error_and_django_reconnects(self, in_atomic: bool) -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as elsewhere:
                elsewhere.execute("SELECT pg_terminate_backend(%s)", [_raw().info.backend_pid])
        finally:
            other.close()
        with (pytest.raises(OperationalError, match="terminating connection"),
              transaction.atomic() if in_atomic else _nothing(), connection.cursor() as cursor):
            cursor.execute("SELECT %s", [1])
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s", [2])
            assert cursor.fetchall() == [(2,)]


@contextmanager
def _nothing() -> Iterator[None]:
    yield
