"""Thread pools kept for the life of the process, for work that touches no database (fetching, hashing).

A worker step that hands a few fetches to threads every few seconds (liveness, capture) paid for starting
those threads on every call, more than for handing them the work. :func:`kept_pool` gives the process's pool
of that name and size, whose threads start as work comes and then wait for more. A task must not wait on
another task of its own pool (the pool could be full of waiting tasks), nor use the database (a kept thread
would keep its connection open).

Per process: a forked child gets a pool of its own, never the parent's (whose threads it does not have).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["kept_pool"]

_POOLS: dict[tuple[int, str, int], ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def kept_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool ``name`` of at most ``workers`` threads (started as work comes, then kept)."""
    key = (os.getpid(), name, max(1, workers))
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(max_workers=key[2], thread_name_prefix=name)
        return pool
