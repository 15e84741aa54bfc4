"""plainsql.fetch_all: the rows Django's cursor gives, on the connection's own cursor, with Django's checks
kept (a broken transaction refused, errors as ``django.db`` exceptions, a closed connection reopened) and
every query visible whenever something watches them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from hotline.hashes.models import Bank
from hotline.lib.plainsql import fetch_all

pytestmark = pytest.mark.django_db

SQL = f"SELECT id, name, trusted, pdq_radius FROM {Bank._meta.db_table} WHERE id IN (%s, %s) ORDER BY id"  # noqa: S608


def _through_django(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def test_it_returns_the_rows_django_returns() -> None:
    first = Bank.objects.create(name="first", kind="import", trusted=True, pdq_radius=31)
    second = Bank.objects.create(name="50% off", kind="import", trusted=False, pdq_radius=20)
    Bank.objects.create(name="third", kind="import", pdq_radius=10)
    rows = fetch_all(SQL, [first.pk, second.pk])
    assert rows == _through_django(SQL, [first.pk, second.pk])
    assert [(r[0], r[1], bool(r[2]), r[3]) for r in rows] == [
        (first.pk, "first", True, 31), (second.pk, "50% off", False, 20)]
    assert fetch_all(SQL, [-1, -2]) == []
    # a % is a % without parameters, and %% is a % with them, as cursor.execute has it
    assert fetch_all("SELECT '5%'") == _through_django("SELECT '5%'") == [("5%",)]
    assert fetch_all("SELECT '5%%', %s", [7]) == _through_django("SELECT '5%%', %s", [7]) == [("5%", 7)]


def test_the_query_is_seen_whenever_queries_are_watched() -> None:
    bank = Bank.objects.create(name="watched", kind="import", pdq_radius=31)
    with CaptureQueriesContext(connection) as seen:
        assert fetch_all(SQL, [bank.pk, bank.pk])[0][1] == "watched"
    assert [q["sql"] for q in seen.captured_queries if "pdq_radius" in q["sql"]], seen.captured_queries
    wrapped: list[str] = []

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        wrapped.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        fetch_all(SQL, [bank.pk, bank.pk])
    assert len(wrapped) == 1


def test_a_broken_transaction_is_refused_and_errors_are_djangos() -> None:
    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError):
            fetch_all("SELECT 1")
    with pytest.raises(DatabaseError):
        fetch_all("SELECT no_such_column FROM no_such_table WHERE 1 = %s", [1])


def test_unwatched_it_does_not_go_through_djangos_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it: on SQLite and PostgreSQL, with nothing watching, no Django cursor is made."""
    bank = Bank.objects.create(name="lean", kind="import", pdq_radius=31)
    connection.ensure_connection()

    def no_cursor(*args: object) -> None:
        raise AssertionError("went through Django's cursor")

    monkeypatch.setattr(connection, "cursor", no_cursor)
    assert fetch_all(SQL, [bank.pk, bank.pk])[0][1] == "lean"


@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_is_opened_again() -> None:
    Bank.objects.create(name="after close", kind="import", pdq_radius=31)
    connection.close()
    assert connection.connection is None
    sql = f"SELECT name FROM {Bank._meta.db_table} WHERE name = %s"  # noqa: S608
    assert fetch_all(sql, ["after close"]) == [("after close",)]


def test_execute_changes_the_rows_djangos_cursor_would_and_counts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """``execute``: a write, its row count as ``cursor.rowcount`` gives it; inside a transaction it is part of it;
    seen when queries are watched; unwatched, no Django cursor is made."""
    from hotline.lib.plainsql import execute

    banks = [Bank.objects.create(name=f"bank {n}", kind="import", pdq_radius=31) for n in range(3)]
    rename = f"UPDATE {Bank._meta.db_table} SET name = name || %s WHERE id IN (%s, %s)"  # noqa: S608
    assert execute(rename, [" (old)", banks[0].pk, banks[1].pk]) == 2
    assert execute(rename, [" (old)", -1, -2]) == 0
    with transaction.atomic():
        assert execute(rename, [" (gone)", banks[2].pk, banks[2].pk]) == 1
        transaction.set_rollback(True)
    assert sorted(Bank.objects.filter(pk__in=[b.pk for b in banks]).values_list("name", flat=True)) == [
        "bank 0 (old)", "bank 1 (old)", "bank 2"]
    with CaptureQueriesContext(connection) as seen:
        assert execute(rename, ["!", banks[2].pk, banks[2].pk]) == 1
    assert len(seen.captured_queries) == 1
    connection.ensure_connection()

    def no_cursor(*args: object) -> None:
        raise AssertionError("went through Django's cursor")

    monkeypatch.setattr(connection, "cursor", no_cursor)
    assert execute(rename, ["!", banks[2].pk, banks[2].pk]) == 1
    with pytest.raises(DatabaseError):
        execute("UPDATE no_such_table SET x = %s", [1])


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_one_cursor_per_text_is_kept_and_renewed_when_it_must_be(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept cursor answers each call with its own rows (not the last call's), an error leaves it usable, a
    closed one or a reopened connection gets a new one, and past the bound the kept ones are closed."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's connection makes its cursors itself")
    from hotline.lib import plainsql

    banks = [Bank.objects.create(name=f"kept {n}", kind="import", pdq_radius=10 + n) for n in range(3)]
    one = f"SELECT name FROM {Bank._meta.db_table} WHERE id = %s"  # noqa: S608
    assert fetch_all(one, [banks[0].pk]) == [("kept 0",)]
    raw = connection.connection
    kept = plainsql._PG_CURSORS[raw][one]
    assert fetch_all(one, [banks[1].pk]) == [("kept 1",)]
    assert fetch_all(one, [-1]) == []
    assert plainsql._PG_CURSORS[raw][one] is kept  # the same cursor, its rows each time its own
    narrow = f"UPDATE {Bank._meta.db_table} SET pdq_radius = %s WHERE id = %s"  # noqa: S608
    assert plainsql.execute(narrow, [5, banks[2].pk]) == 1
    assert fetch_all(SQL, [banks[0].pk, banks[2].pk]) == [
        (banks[0].pk, "kept 0", False, 10), (banks[2].pk, "kept 2", False, 5)]
    with pytest.raises(DatabaseError):
        fetch_all(f"SELECT name FROM {Bank._meta.db_table} WHERE id = %s::int", ["not a number"])  # noqa: S608
    assert fetch_all(one, [banks[2].pk]) == [("kept 2",)]  # still usable after another text's error
    kept.close()
    assert fetch_all(one, [banks[0].pk]) == [("kept 0",)]
    renewed = plainsql._PG_CURSORS[raw][one]
    assert renewed is not kept and not renewed.closed
    connection.close()
    assert fetch_all(one, [banks[1].pk]) == [("kept 1",)]  # (opened through Django's cursor)
    assert fetch_all(one, [banks[2].pk]) == [("kept 2",)]
    assert connection.connection is not raw and plainsql._PG_CURSORS[connection.connection][one] is not renewed
    monkeypatch.setattr(plainsql, "_KEPT", 2)
    texts = [f"SELECT name FROM {Bank._meta.db_table} WHERE id = %s AND {n} = {n}" for n in range(2)]  # noqa: S608
    kept_now = plainsql._PG_CURSORS[connection.connection]
    assert fetch_all(texts[0], [banks[0].pk]) == [("kept 0",)] and len(kept_now) == 2  # one, texts[0]
    held = list(kept_now.values())
    assert fetch_all(texts[1], [banks[1].pk]) == [("kept 1",)]  # a third text: the two kept ones closed
    assert all(cursor.closed for cursor in held) and list(kept_now) == [texts[1]]
    assert fetch_all(one, [banks[0].pk]) == [("kept 0",)]
    monkeypatch.setattr(plainsql, "_KEPT_ROWS", 1)  # a bigger result than that: its cursor is not kept
    assert len(fetch_all(SQL, [banks[0].pk, banks[1].pk])) == 2 and SQL not in kept_now
    assert fetch_all(SQL, [banks[0].pk, -1]) == [(banks[0].pk, "kept 0", False, 10)] and SQL in kept_now
