"""How fast this host's memory answers a random read, to read memory-bound figures taken at different times.

    taskset -c 0 .venv/bin/python bench/host_memory.py            # 32 MiB, 320 MiB and 1.6 GiB
    taskset -c 0 .venv/bin/python bench/host_memory.py --mib 1638

The PDQ index's single query (``bench/pdq_single_ab.py``) is a few thousand random reads in 0.3-1.7 GiB of tables
and codes, so its time follows the host's memory: on this VM the same code measured 121 µs at 10 M rows one
afternoon and 204-217 µs one night, while a dependent random read over 1.6 GiB took 192 and 338 ns. This script
prints that latency (a pointer chase: each read's address is the value the previous read returned, so no two
reads overlap) for arrays of the sizes given, on 2 MiB pages where the kernel grants them, next to the mean of
independent random reads of the same array (the reads the PDQ kernel overlaps). Run it beside a memory-bound
bench and quote both: the ratio of two trees in one run holds whatever the host does; an absolute figure
compared with one of another day needs the host's latency of both days.

The chase runs in a numba loop (``pip install hotline[fast]``); without numba it says so and stops.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _kernels() -> tuple[Callable[..., Any], Callable[..., Any]]:
    import numba  # type: ignore[import-not-found,import-untyped,unused-ignore]

    @numba.njit(cache=False)  # type: ignore[untyped-decorator,misc,unused-ignore]
    def chase(next_of: np.ndarray, steps: int) -> int:
        at = 0
        for _ in range(steps):
            at = next_of[at]
        return at

    @numba.njit(cache=False)  # type: ignore[untyped-decorator,misc,unused-ignore]
    def gather(values: np.ndarray, where: np.ndarray) -> int:
        total = 0
        for i in range(len(where)):
            total += values[where[i]]
        return total

    return chase, gather


def one_cycle(n: int, rng: np.random.Generator) -> np.ndarray:
    """``next_of`` such that following it from 0 visits every slot once (one cycle through a random order)."""
    order = rng.permutation(n)
    next_of = np.empty(n, dtype=np.int64)
    next_of[order] = np.roll(order, -1)
    return next_of


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, nargs="*", default=[32, 320, 1638], help="array sizes in MiB")
    parser.add_argument("--steps", type=int, default=2_000_000, help="reads per measurement")
    args = parser.parse_args()
    try:
        chase, gather = _kernels()
    except ImportError:
        sys.exit("numba is not installed (pip install hotline[fast]): no measurement")
    rng = np.random.default_rng(5)
    print(f"load average {os.getloadavg()[0]:.1f}; one CPU; dependent = each read waits for the one before")
    for mib in args.mib:
        n = mib * 2**20 // 8
        next_of = one_cycle(n, rng)
        where = rng.integers(0, n, args.steps)
        steps = min(args.steps, n)
        chase(next_of, 1000)  # compile and warm up
        gather(next_of, where[:1000])
        best_dependent = best_independent = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            chase(next_of, steps)
            best_dependent = min(best_dependent, (time.perf_counter() - start) / steps)
            start = time.perf_counter()
            gather(next_of, where)
            best_independent = min(best_independent, (time.perf_counter() - start) / len(where))
        print(f"  {mib:>6,} MiB: dependent random read {best_dependent * 1e9:6.1f} ns,"
              f" independent {best_independent * 1e9:5.1f} ns (best of 3 rounds of {steps:,} reads)")
        del next_of, where


if __name__ == "__main__":
    main()
