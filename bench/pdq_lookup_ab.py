"""The product's PDQ look-up, one hash per call: this tree's ``lookup`` against a git revision's, in one process.

    taskset -c 1 .venv/bin/python bench/pdq_lookup_ab.py --entries 1000000            # scratch SQLite file
    taskset -c 1 .venv/bin/python bench/pdq_lookup_ab.py --database postgres://postgres@127.0.0.1:5432/x

Fills a scratch database as ``bench/pdq_lookup.py`` does (``--entries`` random PDQ entries in two banks,
radius 31 and 20, 1 % disabled), then loads ``hotline/hashes/services/matching.py``, ``pdqindex.py`` and
``pdqkernel.py`` as they were at ``--baseline`` (``git show``) as separate modules beside this tree's. Each
builds its own index from the database, and ``lookup([("pdq", hex)], banks=[...])`` runs once per query
through each, interleaved (the order alternating), with ``HOTLINE_HASH_INDEX_MAX_AGE`` = ``--max-age``
(1 s, the default setting). Queries as in ``pdq_lookup.py``: half an entry with 0..31 bits flipped (a
quarter of those a disabled entry), half random. Prints CPU-time (``thread_time``) p50/p90 of every call,
the calls without and with a hit, the index search alone (``search_one``, what ``lookup()`` calls for
one hash; on another query than the one just looked up, whose lines are in cache), their ratios, and whether
both returned the same hits. Pinned to one CPU; on a shared machine only the ratios of one run mean much.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pdq_lookup import RADIUS, fill_entries, flip_bits  # noqa: E402
from pdq_single_ab import baseline_module  # noqa: E402


def baseline_matching(revision: str, folder: Path) -> Any:
    """``hotline.hashes.services.matching`` at ``revision``, on that revision's ``pdqindex`` and kernel."""
    baseline_module(revision, folder)  # writes and imports baseline_pdqindex / baseline_pdqkernel
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:hotline/hashes/services/matching.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    imported = "from hotline.lib.pdqindex import"
    assert imported in source, "the baseline imports the index some other way"
    (folder / "baseline_matching.py").write_text(source.replace(imported, "from baseline_pdqindex import"))
    import baseline_matching  # type: ignore[import-not-found]

    return baseline_matching


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--database", default="", help="PostgreSQL URL (a scratch database is made); default SQLite")
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument("--max-age", type=float, default=1.0, help="HOTLINE_HASH_INDEX_MAX_AGE")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    from intake_throughput import bench_database

    bench_database(args.database, folder.name)
    from django.conf import settings
    from django.db import connection

    from hotline.hashes.services import matching
    from hotline.lib.pdqindex import bytes_to_hex

    rng = np.random.default_rng(11)
    codes, disabled, banks = fill_entries(args.entries, rng)
    settings.HOTLINE_HASH_INDEX_MAX_AGE = args.max_age
    modules = {
        f"baseline ({args.baseline})": baseline_matching(args.baseline, Path(folder.name)),
        "this tree": matching,
    }
    names = list(modules)
    for module in modules.values():
        module.pdq_index().index.kernel = "auto"
    loaded = modules[names[1]].pdq_index()
    print(f"{connection.vendor}: {args.entries:,} PDQ entries ({len(disabled):,} disabled), {loaded.index.layout}")

    near = args.queries // 2
    picked = rng.integers(0, args.entries, near)
    picked[: near // 4] = rng.choice(disabled, near // 4)
    queries = [flip_bits(rng, codes[n], int(rng.integers(0, RADIUS + 1))) for n in picked]
    queries += list(rng.integers(0, 256, (args.queries - near, 32), dtype=np.uint8))
    query_hex = [bytes_to_hex(queries[i][None, :])[0] for i in rng.permutation(len(queries))]
    for module in modules.values():
        module.lookup([("pdq", query_hex[0])], banks=banks)  # compile / warm up

    cpu: dict[str, list[float]] = {name: [] for name in names}
    index_cpu: dict[str, list[float]] = {name: [] for name in names}
    answers: dict[str, list[list[tuple[int, int, int]]]] = {name: [] for name in names}
    for turn, value in enumerate(query_hex):
        other = query_hex[(turn + len(query_hex) // 2) % len(query_hex)]  # not the query just looked up (cached)
        raw = bytes.fromhex(other)
        array = np.frombuffer(raw, dtype=np.uint8)[None, :]
        for name in names if turn % 2 else names[::-1]:
            module = modules[name]
            start = time.thread_time()
            hits = module.lookup([("pdq", value)], banks=banks)[0]
            cpu[name].append(time.thread_time() - start)
            answers[name].append([(h.entry_id, h.bank_id, h.distance) for h in hits])
            index = module.pdq_index().index
            one = getattr(index, "search_one", None)  # what lookup() calls for one hash; older trees: search
            start = time.thread_time()
            one(raw) if one is not None else index.search(array)
            index_cpu[name].append(time.thread_time() - start)
    hit = [i for i, found in enumerate(answers[names[1]]) if found]
    miss = [i for i, found in enumerate(answers[names[1]]) if not found]
    p50: dict[tuple[str, str], float] = {}
    for label, which, times in (
        ("index search alone", range(len(query_hex)), index_cpu),
        ("lookup(), every call", range(len(query_hex)), cpu),
        (f"lookup(), no hit ({len(miss):,})", miss, cpu),
        (f"lookup(), with a hit ({len(hit):,})", hit, cpu),
    ):
        print(f"{label}:")
        for name in names:
            values = np.array([times[name][i] for i in which]) * 1e6
            p50[label, name] = float(np.median(values))
            print(f"  {name:24s} CPU p50 {np.median(values):7.1f} us, p90 {np.percentile(values, 90):7.1f}")
        print(f"  this tree / baseline, p50: {p50[label, names[1]] / p50[label, names[0]]:.3f}")
    same = answers[names[0]] == answers[names[1]]
    print(f"same hits on all {len(query_hex):,} queries: {same}; {len(hit):,} with a hit; max-age {args.max_age:g} s")
    folder.cleanup()


if __name__ == "__main__":
    main()
