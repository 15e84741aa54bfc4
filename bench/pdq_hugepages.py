"""Are the PDQ index's arrays on transparent huge pages, and what do they buy one query per call?

    taskset -c 1 .venv/bin/python bench/pdq_hugepages.py                    # 1 M random hashes
    taskset -c 1 .venv/bin/python bench/pdq_hugepages.py --rows 10000000    # 10 M

numpy asks the kernel for huge pages (``madvise(MADV_HUGEPAGE)``) on every allocation of 4 MiB or
more, which is what lets them be used where THP is in ``madvise`` mode. The script builds the same
index twice in one process, once with numpy's advice switched off (``_set_madvise_hugepage(False)``)
and once with it on (the default), saves and loads the second (``PdqIndex.load``), and prints for
each the ``AnonHugePages`` of the memory mappings that hold the codes, the row orders, the bucket
slots (offsets before) and the bitmaps (``/proc/self/smaps``; a mapping may also hold other arrays). Then it times
``search`` on one query per call, the two indexes interleaved, each call its own query (one index's
call never warms the cache for the other), and prints the CPU-time (``thread_time``) p50/p90 of
each and their ratio. Queries: half an entry with 12 random bits flipped, half random. Synthetic
data only; pinned to one CPU.
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy._core import multiarray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.lib.pdqindex import PdqIndex


def mappings() -> list[tuple[int, int, int]]:
    """(start, end, AnonHugePages bytes) of every mapping of this process."""
    found: list[tuple[int, int, int]] = []
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                start, end = (int(x, 16) for x in head.split("-"))
                found.append((start, end, 0))
            elif head == "AnonHugePages:":
                start, end, _ = found[-1]
                found[-1] = (start, end, int(line.split()[1]) * 1024)
    return found


def on_huge_pages(index: PdqIndex) -> str:
    segment: Any = index._main
    maps = mappings()
    parts = []
    for name in ("codes", "order_all", "slots_all" if hasattr(segment, "slots_all") else "offsets_all", "occupied_all"):
        array = getattr(segment, name)
        begin = array.__array_interface__["data"][0]
        end = begin + array.nbytes
        over = [(a, b, huge) for a, b, huge in maps if a < end and b > begin]
        mapped = sum(b - a for a, b, _ in over)
        parts.append(
            f"{name} {array.nbytes >> 20} MiB: huge {sum(h for *_, h in over) >> 20} MiB of {mapped >> 20} MiB mapped"
        )
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=3000, help="one-query calls per index")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, (args.rows, 32), dtype=np.uint8)
    ids = np.arange(args.rows, dtype=np.int64)
    indexes: dict[str, PdqIndex] = {}
    for name, advice in (("4 KiB pages", False), ("huge pages", True)):
        multiarray._set_madvise_hugepage(advice)  # type: ignore[attr-defined]
        index = PdqIndex(radius=31, kernel="numba")
        index.add(ids, codes)
        indexes[name] = index
        print(f"{name} (numpy's advice {'on' if advice else 'off'}): {on_huge_pages(index)}")
    multiarray._set_madvise_hugepage(True)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.npz"
        indexes["huge pages"].save(path)
        print(f"after PdqIndex.load: {on_huge_pages(PdqIndex.load(path, kernel='numba'))}")
    print(f"{args.rows:,} rows, {indexes['huge pages'].layout}, {indexes['huge pages'].nbytes >> 20} MiB")

    calls = args.calls
    queries = codes[rng.integers(0, args.rows, calls)].copy()
    for row in queries[: calls // 2]:
        for bit in rng.choice(256, 12, replace=False):
            row[bit // 8] ^= np.uint8(1 << (bit % 8))
    queries[calls // 2 :] = rng.integers(0, 256, (calls - calls // 2, 32), dtype=np.uint8)
    names = list(indexes)
    for name in names:
        indexes[name].search(queries[:1])  # compile
    assert all(indexes[names[0]].search(q[None]) == indexes[names[1]].search(q[None]) for q in queries[:200])
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(calls):
        for name in names if turn % 2 else names[::-1]:
            query = queries[rng.integers(0, calls)][None]
            start = time.thread_time()
            indexes[name].search(query)
            cpu[name].append(time.thread_time() - start)
    for name in names:
        values = np.array(cpu[name]) * 1e6
        p50, p90 = np.median(values), np.percentile(values, 90)
        print(f"  {name:12s} one query per call, CPU p50 {p50:7.1f} us, p90 {p90:7.1f}")
    ratio = np.median(cpu["huge pages"]) / np.median(cpu["4 KiB pages"])
    print(f"  huge / 4 KiB pages, p50: {ratio:.2f}")


if __name__ == "__main__":
    main()
