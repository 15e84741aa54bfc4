"""One PDQ query per call: this tree's ``PdqIndex`` against the one at a git revision, in one process.

    taskset -c 1 .venv/bin/python bench/pdq_single_ab.py                          # 1 M, against main
    taskset -c 1 .venv/bin/python bench/pdq_single_ab.py --rows 10000000 --calls 800
    taskset -c 1 .venv/bin/python bench/pdq_single_ab.py --baseline HEAD~1

``hotline/lib/pdqindex.py`` and ``pdqkernel.py`` as they were at ``--baseline`` (``git show``) are
loaded as separate modules beside this tree's, both build an index of the same synthetic rows, and
``search`` is called with one query at a time, the two indexes interleaved (the order alternating)
and each call on its own random query, so that neither index's call warms the cache for the other.
Queries: half an entry with 12 random bits flipped, half random. Prints the CPU-time
(``thread_time``) p50/p90 of each, their ratio, and checks that both return the same answers; then the same for
``search_one`` (the product's call, one hash as its 32 bytes), p50 only. Then
batches of ``--batch`` queries (10,000) in one call, three rounds alternating, through the path
``auto`` takes for them (numpy until December 2026's fifth round, the kernel since), the numpy path and
the kernel: queries per CPU second, best round of each.
Pinned to one CPU; on a shared machine only the ratio of one run means much.
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.lib import pdqindex  # noqa: E402


def baseline_module(revision: str, folder: Path) -> Any:
    """``pdqindex`` at ``revision``, importing its own ``pdqkernel`` of that revision."""

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:{path}"], check=True, capture_output=True, text=True
        ).stdout

    (folder / "baseline_pdqkernel.py").write_text(show("hotline/lib/pdqkernel.py"))
    source = show("hotline/lib/pdqindex.py")
    imported = "from hotline.lib import pdqkernel"
    assert imported in source, "the baseline imports its kernel some other way"
    (folder / "baseline_pdqindex.py").write_text(source.replace(imported, "import baseline_pdqkernel as pdqkernel"))
    sys.path.insert(0, str(folder))
    import baseline_pdqindex  # type: ignore[import-not-found]

    return baseline_pdqindex


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=3000, help="one-query calls per index")
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument("--batch", type=int, default=10_000, help="queries per batch call")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        modules = {f"baseline ({args.baseline})": baseline_module(args.baseline, Path(folder)), "this tree": pdqindex}
        rng = np.random.default_rng(7)
        codes = rng.integers(0, 256, (args.rows, 32), dtype=np.uint8)
        ids = np.arange(args.rows, dtype=np.int64)
        indexes = {}
        for name, module in modules.items():
            index = module.PdqIndex(radius=31, kernel="numba")
            index.add(ids, codes)
            indexes[name] = index
        names = list(indexes)
        sizes = " vs ".join(f"{indexes[name].nbytes >> 20}" for name in names)
        print(f"{args.rows:,} rows, {indexes[names[1]].layout}, index memory {sizes} MiB (baseline vs this tree)")
        calls = args.calls
        queries = codes[rng.integers(0, args.rows, calls)].copy()
        for row in queries[: calls // 2]:
            for bit in rng.choice(256, 12, replace=False):
                row[bit // 8] ^= np.uint8(1 << (bit % 8))
        queries[calls // 2 :] = rng.integers(0, 256, (calls - calls // 2, 32), dtype=np.uint8)
        same = all(indexes[names[0]].search(q[None]) == indexes[names[1]].search(q[None]) for q in queries)
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for turn in range(2 * calls):
            for name in names if turn % 2 else names[::-1]:
                query = queries[rng.integers(0, calls)][None]
                start = time.thread_time()
                indexes[name].search(query)
                cpu[name].append(time.thread_time() - start)
        for name in names:
            values = np.array(cpu[name]) * 1e6
            p50, p90 = np.median(values), np.percentile(values, 90)
            print(f"  {name:24s} one query per call ({len(values):,}), CPU p50 {p50:7.1f} us, p90 {p90:7.1f}")
        ratio = np.median(cpu[names[1]]) / np.median(cpu[names[0]])
        print(f"  this tree / baseline, p50: {ratio:.3f}; same answers on all {calls:,} queries: {same}")
        one: dict[str, list[float]] = {name: [] for name in names}  # the product's call: search_one(32 bytes)
        for turn in range(2 * calls):
            for name in names if turn % 2 else names[::-1]:
                hashed = queries[rng.integers(0, calls)].tobytes()
                start = time.thread_time()
                indexes[name].search_one(hashed)
                one[name].append(time.thread_time() - start)
        p50s = [np.median(one[name]) * 1e6 for name in names]
        print(f"  search_one (the product's call), CPU p50: {p50s[0]:.1f} vs {p50s[1]:.1f} us: {p50s[1] / p50s[0]:.3f}")
        batch = codes[rng.integers(0, args.rows, args.batch)].copy()
        batch[args.batch // 2 :] = rng.integers(0, 256, (args.batch - args.batch // 2, 32), dtype=np.uint8)
        for path in ("auto", "numpy", "numba"):
            best: dict[str, float] = {}
            answers = []
            for turn in range(3):
                for name in names if turn % 2 else names[::-1]:
                    indexes[name].kernel = path
                    start = time.thread_time()
                    answers.append(indexes[name].search(batch))
                    best[name] = max(best.get(name, 0.0), args.batch / (time.thread_time() - start))
            label = {"auto": "'auto'", "numpy": "numpy path", "numba": "kernel"}[path]
            print(
                f"  batch of {args.batch:,}, {label}: {best[names[0]]:,.0f} (baseline) vs {best[names[1]]:,.0f}"
                f" (this tree) queries per CPU second: {best[names[1]] / best[names[0]]:.3f};"
                f" same answers: {all(a == answers[0] for a in answers)}"
            )


if __name__ == "__main__":
    main()
