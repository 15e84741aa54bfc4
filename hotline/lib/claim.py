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
from typing import Any, TypeVar

from django.db import close_old_connections, connection, transaction
from django.db.models import Model, QuerySet

log = logging.getLogger("hotline.worker")

M = TypeVar("M", bound=Model)
T = TypeVar("T")

__all__ = ["claim_due", "claim_one", "claim_read", "run_in_threads", "skip_locked"]


def skip_locked(queryset: QuerySet[M], *, of: Sequence[str] = ()) -> QuerySet[M]:
    """Lock the selected rows and skip rows other transactions hold (PostgreSQL); unchanged elsewhere,
    where the IMMEDIATE transaction or a conditional UPDATE keeps workers apart."""
    if connection.vendor == "postgresql":
        return queryset.select_for_update(skip_locked=True, of=tuple(of))
    return queryset


def claim_due(queryset: QuerySet[M], *, limit: int, update: Mapping[str, Any] | None = None,
              match: Sequence[str] = (), where: Mapping[str, Any] | None = None, of: Sequence[str] = (),
              scan: int = 3, write: Callable[[QuerySet[M]], int] | None = None) -> list[M]:
    """Claim up to ``limit`` rows of the ordered ``queryset`` by writing ``update`` to them (a lease:
    a due time moved forward, an attempt counted), or by calling ``write`` with the rows to claim, which
    returns how many it changed (a state move along a transition table: ``OutboxRow.claim_due``).

    ``match`` names the fields whose values, as read, must still hold when the row is claimed (SQLite's
    conditional UPDATE); ``where`` adds fixed conditions to it. On SQLite up to ``limit * scan``
    candidates are read so a few lost races do not leave the batch short. ``of`` limits the row locks
    to these tables when the queryset joins others (PostgreSQL). The rows come back as they were read,
    before ``update``; callers that need the new values refresh them."""
    if limit <= 0:
        return []
    changes = dict(update or {})
    apply = write or (lambda rows: rows.update(**changes))
    manager = queryset.model._default_manager
    with transaction.atomic():
        if connection.vendor == "postgresql":
            rows = list(skip_locked(queryset, of=of)[:limit])
            if rows:
                apply(manager.filter(pk__in=[row.pk for row in rows]))
            return rows
        claimed: list[M] = []
        for row in queryset[: limit * scan]:
            condition = {name: getattr(row, name) for name in match} | dict(where or {})
            if apply(manager.filter(pk=row.pk, **condition)) == 1:
                claimed.append(row)
                if len(claimed) >= limit:
                    break
        return claimed


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

