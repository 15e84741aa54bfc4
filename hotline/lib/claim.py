"""Claiming due rows safely, and running claimed work on a few threads.

Every worker that takes durable rows (notices, referrals, exchange messages, trace and capture leases,
liveness checks) claims them here, so the one database-specific branch lives in one place:

* PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` in one transaction, then one UPDATE of the batch.
  Concurrent claimers skip each other's locked rows, so no row is taken twice.
* SQLite (and any other database): read the candidates, then one conditional
  ``UPDATE … WHERE pk = … AND <the values just read still hold>`` per row; a row whose UPDATE hits
  no row was taken by another worker in between and is left out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from django.db import close_old_connections, connection, transaction
from django.db.models import Model, QuerySet
from django.db.models.expressions import Combinable

from hotline.lib import prepared

log = logging.getLogger("hotline.worker")

M = TypeVar("M", bound=Model)
T = TypeVar("T")

__all__ = ["claim_due", "claim_one", "claim_read", "claim_rows", "run_in_threads", "skip_locked"]


def skip_locked(queryset: QuerySet[M], *, of: Sequence[str] = ()) -> QuerySet[M]:
    """Lock the selected rows and skip rows other transactions hold (PostgreSQL); unchanged elsewhere,
    where the IMMEDIATE transaction or a conditional UPDATE keeps workers apart."""
    if connection.vendor == "postgresql":
        return queryset.select_for_update(skip_locked=True, of=tuple(of))
    return queryset


# A claim's write as rows to update and the values to write, given the claimed rows and the values named in
# ``values`` (a state move: ``states.move_update``), for an UPDATE compiled once (``prepared.update``).
Move = Callable[[QuerySet[M], Mapping[str, Any]], tuple[QuerySet[M], dict[str, Any]]]


def claim_due(queryset: QuerySet[M], *, limit: int, update: Mapping[str, Any] | None = None,
              match: Sequence[str] = (), where: Mapping[str, Any] | None = None, of: Sequence[str] = (),
              scan: int = 3, write: Callable[[QuerySet[M]], int] | None = None,
              move: Move[M] | None = None, values: Mapping[str, Any] | None = None, name: str = "") -> list[M]:
    """Claim up to ``limit`` rows of the ordered ``queryset`` by writing ``update`` to them (a lease:
    a due time moved forward, an attempt counted), or by ``move`` (the rows and the values to write, given
    the claimed rows and ``values``: a state move along a transition table, ``OutboxRow.claim_due``), or by
    calling ``write`` with the rows to claim, which returns how many it changed.

    ``match`` names the fields whose values, as read, must still hold when the row is claimed (SQLite's
    conditional UPDATE); ``where`` adds fixed conditions to it. On SQLite up to ``limit * scan``
    candidates are read so a few lost races do not leave the batch short. ``of`` limits the row locks
    to these tables when the queryset joins others (PostgreSQL). The rows come back as they were read,
    before ``update``; callers that need the new values refresh them.

    With ``update``, or ``move`` and a ``name`` for it (unique per model: the SQL is kept under it), the
    claim's UPDATE is compiled once per process (``prepared.update``) and run with each call's values: the
    ids, the values read (``match``) and the values written. A value that is not a moment, an integer or a
    string (None, a boolean, an expression such as ``F("attempts") + 1``) shapes the SQL: it is part of
    the key the SQL is kept under, by its ``repr``; a value of any other type, and ``write``, take the ORM
    path. Inside a transaction the claim joins it (no savepoint: an error rolls back the caller's
    transaction, which holds the claim's writes until it commits); otherwise it is its own."""
    if limit <= 0:
        return []
    changes = dict(update or {})
    if write is None and move is None:
        move, values, name = _as_written, changes, f"update:{sorted(changes)}"
    compiled = _Compiler(queryset.model, move, dict(values or {}), name) if write is None else None
    manager = queryset.model._default_manager

    def apply(condition: dict[str, Any]) -> int:
        if compiled is not None:
            return compiled.write(condition)
        assert write is not None
        return write(manager.filter(**condition))

    with transaction.atomic(savepoint=False):
        rows = skip_locked(queryset, of=of)[:limit] if connection.vendor == "postgresql" else queryset[:limit * scan]
        return _claim_read(rows, apply, limit=limit, match=match, where=where)


def claim_rows(model: type[M], rows: list[M], *, limit: int, move: Move[M], values: Mapping[str, Any], name: str,
               match: Sequence[str] = (), where: Mapping[str, Any] | None = None) -> list[M]:
    """:func:`claim_due` for candidates the caller has read in the current transaction, in order (a query compiled
    once, ``prepared.instances``, built as :func:`claim_due` reads: :func:`skip_locked`, ``[:limit]`` on
    PostgreSQL, ``[:limit * scan]`` elsewhere): on PostgreSQL the read locked them and one UPDATE claims them all;
    elsewhere each is claimed by the conditional UPDATE on its ``match`` values as read (and ``where``), up to
    ``limit``. The UPDATE is ``move``'s under ``name``, compiled once as :func:`claim_due` compiles it. Returns the
    rows claimed, as they were read."""
    if limit <= 0 or not rows:
        return []
    compiled = _Compiler(model, move, dict(values), name)
    with transaction.atomic(savepoint=False):
        return _claim_read(rows, compiled.write, limit=limit, match=match, where=where)


def _claim_read(rows: Iterable[M], apply: Callable[[dict[str, Any]], int], *, limit: int, match: Sequence[str],
                where: Mapping[str, Any] | None) -> list[M]:
    """Claim the rows read (in the caller's transaction): on PostgreSQL the read locked them, and one write claims
    them all; elsewhere each by a write conditional on its ``match`` values as read (and ``where``), up to
    ``limit``. Returns the rows claimed, as they were read."""
    if connection.vendor == "postgresql":
        locked = list(rows)
        if locked:
            apply({"pk__in": [row.pk for row in locked]})
        return locked
    claimed: list[M] = []
    fixed = dict(where or {})
    for row in rows:
        if apply({"pk": row.pk} | {field: getattr(row, field) for field in match} | fixed) == 1:
            claimed.append(row)
            if len(claimed) >= limit:
                break
    return claimed


def _as_written(rows: QuerySet[M], values: Mapping[str, Any]) -> tuple[QuerySet[M], dict[str, Any]]:
    return rows, dict(values)


def _plain(value: Any) -> bool:
    """Whether ``value`` can be bound as a parameter of SQL compiled once: a moment, an integer, a string."""
    return isinstance(value, datetime | str) or (isinstance(value, int) and not isinstance(value, bool))


def _shaping(value: Any) -> bool:
    """Whether ``value`` is part of the SQL's shape, told apart by its ``repr``."""
    return value is None or isinstance(value, bool | Combinable)


class _Compiler:
    """One claim's UPDATE, compiled once (``prepared.update``) per model, ``name``, the columns of the
    condition and the shape of the values (see :func:`claim_due`); the ORM's for values it cannot bind."""

    def __init__(self, model: type[Model], move: Move[Any] | None, values: dict[str, Any], name: str) -> None:
        assert move is not None
        self.model, self.move, self.values, self.name = model, move, values, name
        self.label = f"claim:{model._meta.label}:{name}"

    def orm(self, rows: QuerySet[Any]) -> int:
        target, changes = self.move(rows, self.values)
        return int(target.update(**changes))

    def write(self, condition: dict[str, Any]) -> int:
        if not self.name:  # a ``move`` without a name to keep its SQL under
            return self.orm(self.model._default_manager.filter(**condition))
        given = {f"where {key}": _unwrapped(value) for key, value in condition.items()} | {
            f"set {key}": _unwrapped(value) for key, value in self.values.items()}
        bound: dict[str, Any] = {}
        shape: list[tuple[str, str]] = []
        for key, value in given.items():
            if _plain(value) or (isinstance(value, list) and all(_plain(element) for element in value)):
                bound[key] = value
            elif _shaping(value):
                shape.append((key, repr(value)))
            else:  # a value SQL compiled once cannot take: the ORM's UPDATE
                return self.orm(self.model._default_manager.filter(**condition))
        fixed = {key: given[key] for key, _ in shape}

        def build(**named: Any) -> tuple[QuerySet[Any], dict[str, Any]]:
            every = named | fixed
            rows = self.model._default_manager.filter(**{key[6:]: every[key] for key in every if key[:6] == "where "})
            return self.move(rows, {key[4:]: every[key] for key in every if key[:4] == "set "})

        return prepared.update(self.label, build, vary=(tuple(given), tuple(shape)), **bound)


def _unwrapped(value: Any) -> Any:
    """An enumeration's member (``TextChoices``) as its value, the way the ORM writes it."""
    return value.value if isinstance(value, Enum) else value


def claim_one(queryset: QuerySet[M], *, update: Mapping[str, Any] | None = None, match: Sequence[str] = (),
              where: Mapping[str, Any] | None = None, of: Sequence[str] = (),
              write: Callable[[QuerySet[M]], int] | None = None) -> M | None:
    """Claim the first row of the ordered ``queryset`` (see :func:`claim_due`), or None."""
    rows = claim_due(queryset, limit=1, update=update, match=match, where=where, of=of, scan=1, write=write)
    return rows[0] if rows else None


def claim_read(row: M | None, *, match: Sequence[str] = (), write: Callable[[QuerySet[M]], int]) -> M | None:
    """Claim one row already read by the caller in the current transaction (a query compiled once,
    ``prepared.objects``, built with :func:`skip_locked`): on PostgreSQL the read locked it, so ``write`` takes it;
    elsewhere ``write`` is a conditional UPDATE on the ``match`` values as read, as in :func:`claim_due`.
    None when there was no row or another worker took it in between."""
    if row is None:
        return None
    condition = {} if connection.vendor == "postgresql" else {name: getattr(row, name) for name in match}
    return row if write(type(row)._default_manager.filter(pk=row.pk, **condition)) == 1 else None


def run_in_threads(work: Callable[[T], object], items: Iterable[T], *, workers: int,
                   describe: Callable[[T], str], logger: logging.Logger = log, here: bool = False) -> None:
    """Run ``work`` on every item, ``workers`` at a time. A failing item is logged (``"<describe> failed"``)
    and does not stop the others: its lease runs out and it comes back. Each thread closes its database
    connection when done with an item.

    ``here``: the calling thread is one of the ``workers`` (one thread and one database connection fewer
    to open: the caller's connection is used and kept); all take the next item as they become free."""

    def run(item: T, *, close: bool = True) -> None:
        try:
            work(item)
        except Exception:
            logger.exception("%s failed", describe(item))
        finally:
            if close:
                close_old_connections()
                connection.close()

    if not here:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(run, items))
        return
    listed = list(items)
    pending = iter(listed)
    lock = threading.Lock()

    def drain(*, close: bool) -> None:
        while True:
            with lock:
                item = next(pending, _DONE)
            if item is _DONE:
                return
            run(item, close=close)  # type: ignore[arg-type]

    helpers = min(max(1, workers), len(listed)) - 1
    with ThreadPoolExecutor(max_workers=max(1, helpers)) as pool:
        started = [pool.submit(drain, close=True) for _ in range(helpers)]
        drain(close=False)
        for future in started:
            future.result()


_DONE = object()

