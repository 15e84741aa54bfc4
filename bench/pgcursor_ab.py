"""Client CPU per query of Django's psycopg cursor against :class:`hotline.lib.pgbackend.cursor.LeanCursor`,
interleaved on one connection (the connection's ``cursor_factory`` switched between rounds).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME python bench/pgcursor_ab.py --calls 2000 --rounds 9

Works in a table of its own (``pgcursor_ab``, dropped at the end). Shapes: a new Django cursor per query (what
the ORM does), one kept psycopg cursor (what ``hotline.lib.plainsql`` does) and a new one each time (what it
did before it kept them), a write, and a transaction of one
read (``atomic``: BEGIN, the read, COMMIT). Prints µs of process CPU per call, best and median round, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")


def shapes() -> dict[str, Callable[[], object]]:
    from django.db import connection, transaction

    sql = "SELECT id, name, at, n FROM pgcursor_ab WHERE id = %s"
    now = datetime.now(UTC)

    def django_cursor() -> object:
        with connection.cursor() as cursor:
            cursor.execute(sql, [7])
            return cursor.fetchall()

    def kept() -> object:
        cursor = kept_cursors.get(connection.connection.cursor_factory)
        if cursor is None:
            cursor = kept_cursors[connection.connection.cursor_factory] = connection.connection.cursor()
        cursor.execute(sql, [7])
        return cursor.fetchall()

    def new() -> object:
        with connection.connection.cursor() as cursor:
            cursor.execute(sql, [7])
            return cursor.fetchall()

    def write() -> object:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE pgcursor_ab SET at = %s, name = %s WHERE id = %s", [now, "it's", 8])
            return cursor.rowcount

    def atomic_read() -> object:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [7])
            return cursor.fetchall()

    kept_cursors: dict[object, object] = {}
    return {"Django cursor, 1-row read": django_cursor, "kept psycopg cursor, 1-row read": kept,
            "new psycopg cursor, 1-row read": new,
            "Django cursor, 1-row UPDATE": write, "atomic(): BEGIN + read + COMMIT": atomic_read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection
    from django.db.backends.postgresql.base import Cursor  # type: ignore[attr-defined]

    from hotline.lib.pgbackend.cursor import LeanCursor

    assert connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pgcursor_ab")
        cursor.execute("CREATE TABLE pgcursor_ab (id bigserial PRIMARY KEY, name text, at timestamptz, n int)")
        cursor.execute("INSERT INTO pgcursor_ab (name, at, n) SELECT 'row ' || i, now(), i "
                       "FROM generate_series(1, 20) i")
    classes = {"stock": Cursor, "lean": LeanCursor}
    try:
        print(f"{'CPU µs per call':36s} {'stock best':>10s} {'lean best':>10s} {'ratio':>6s}   "
              f"{'stock med':>9s} {'lean med':>9s} {'ratio':>6s}")
        for label, call in shapes().items():
            rounds: dict[str, list[float]] = {name: [] for name in classes}
            for turn in range(args.rounds):
                for name in (list(classes) if turn % 2 == 0 else list(classes)[::-1]):
                    connection.connection.cursor_factory = classes[name]
                    call()
                    began = time.process_time()
                    for _ in range(args.calls):
                        call()
                    rounds[name].append((time.process_time() - began) / args.calls * 1e6)
            best = {name: min(values) for name, values in rounds.items()}
            med = {name: statistics.median(values) for name, values in rounds.items()}
            print(f"{label:36s} {best['stock']:10.1f} {best['lean']:10.1f} {best['lean'] / best['stock']:6.2f}   "
                  f"{med['stock']:9.1f} {med['lean']:9.1f} {med['lean'] / med['stock']:6.2f}")
    finally:
        connection.connection.cursor_factory = LeanCursor
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE pgcursor_ab")


if __name__ == "__main__":
    main()
