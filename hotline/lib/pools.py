"""Thread pools kept for the life of the process, for work that touches no database (fetching, hashing).

A worker step that hands a few fetches to threads every few seconds (liveness, capture) paid for starting
those threads on every call, more than for handing them the work. :func:`kept_pool` gives the process's pool
of that name and size, whose threads start as work comes and then wait for more. A task must not wait on
another task of its own pool (the pool could be full of waiting tasks), nor use the database (a kept thread
would keep its connection open).

:func:`kept_map` runs a batch in the calling thread while the batch looks like finishing soon in it, and hands
the rest to the kept pool otherwise: threads shorten a batch that waits on the network, and only cost CPU
(hand-overs, the GIL passed between threads) when the answers come at once.

Per process: a forked child gets a pool of its own, never the parent's (whose threads it does not have).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["kept_map", "kept_pool"]

T = TypeVar("T")
R = TypeVar("R")

_POOLS: dict[tuple[int, str, int], ThreadPoolExecutor] = {}
_PACES: dict[tuple[int, str], _Pace] = {}
_LOCK = threading.Lock()


def kept_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool ``name`` of at most ``workers`` threads (started as work comes, then kept)."""
    key = (os.getpid(), name, max(1, workers))
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(max_workers=key[2], thread_name_prefix=name)
        return pool


class _Pace:
    """How long one task of a pool's batches has taken lately (wall time, a moving average), or None."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.per_task: float | None = None

    def note(self, took: float) -> None:
        with self.lock:
            self.per_task = took if self.per_task is None else 0.7 * self.per_task + 0.3 * took


def _pace(name: str) -> _Pace:
    key = (os.getpid(), name)
    with _LOCK:
        return _PACES.setdefault(key, _Pace())


def kept_map(work: Callable[[T], R], items: Sequence[T], *, name: str, workers: int, in_caller_for: float,
             clock: Callable[[], float] = time.perf_counter) -> list[R]:
    """``[work(item) for item in items]``, in order, run in the calling thread while the whole batch looks like
    taking at most ``in_caller_for`` seconds there, in the kept pool ``name`` (``workers`` threads) otherwise:

    1. a batch whose tasks took long lately (the pool's moving average times the batch's size is over the
       limit) goes to the pool at once;
    2. otherwise the caller runs the tasks one by one; as soon as the time spent plus the remaining tasks at
       the pace so far would go over the limit, the remaining tasks go to the pool and the caller waits for
       them. So a batch of slow answers loses at most one task's time to starting in the caller.

    ``in_caller_for=0`` always uses the pool (for more than one item); one item always runs in the caller.
    An exception of ``work`` is raised as ``pool.map`` raises it."""
    if len(items) <= 1 or workers <= 1:
        return [work(item) for item in items]
    pace = _pace(name)
    budget = in_caller_for
    done: list[R] = []
    if budget > 0 and (pace.per_task is None or pace.per_task * len(items) <= budget):
        started = clock()
        for item in items:
            began = clock()
            done.append(work(item))
            now = clock()
            pace.note(now - began)
            spent = now - started
            if len(done) < len(items) and spent + spent / len(done) * (len(items) - len(done)) > budget:
                break
    if len(done) == len(items):
        return done

    def timed(item: T) -> R:
        began = clock()
        try:
            return work(item)
        finally:
            pace.note(clock() - began)

    return done + list(kept_pool(name, workers).map(timed, items[len(done):]))
