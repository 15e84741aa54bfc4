"""The product's PDQ look-up, one hash per call: ``hotline.hashes.services.lookup`` on SQLite and PostgreSQL.

    .venv/bin/python bench/pdq_lookup.py --entries 1000000                      # scratch SQLite file
    .venv/bin/python bench/pdq_lookup.py --entries 1000000 --database postgres://postgres@127.0.0.1:5432/test

Fills a scratch database with ``--entries`` random PDQ entries in two banks (radius 31 and 20), disables
1 % of them, builds the process's index from the database (as a worker does after a version change),
then calls ``lookup([("pdq", hex)], banks=[...])`` once per query: the product's own path with the
version check, the bank radius, the bank filter and disabled entries. Queries: ``--queries`` (2,000),
half an entry with 0..31 bits flipped (a quarter of those a disabled entry), half random.

Prints p50/p90 of wall and CPU (thread) time for: the version check (one plain query now, the ORM
query before), the index search alone (``search_one``), and ``lookup()`` for every call and for calls without and
with a hit, each through the compiled kernel and through the numpy path (the baseline), whether the
two paths returned the same hits, and the description of the hits (the one query a hit costs: a
plain query now, the ORM's ``in_bulk`` before). ``lookup()`` runs twice per query, interleaved: with
``HOTLINE_HASH_INDEX_MAX_AGE`` = 0 (the version read before every call, as before) and with
``--max-age`` (default 1.0 s, the setting's default: read at most once a second). Pinned to one CPU,
thread pools at one thread.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RADIUS = 31


def timed(call: Callable[[Any], object], items: list[Any]) -> tuple[list[float], list[float]]:
    wall: list[float] = []
    cpu: list[float] = []
    for item in items:
        start, thread = time.perf_counter(), time.thread_time()
        call(item)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - thread)
    return wall, cpu


def show(label: str, times: tuple[list[float], list[float]]) -> float:
    wall, cpu = (np.array(t) * 1e6 for t in times)
    print(
        f"  {label:44s} wall p50 {np.median(wall):8.1f} us p90 {np.percentile(wall, 90):8.1f};"
        f" CPU p50 {np.median(cpu):8.1f} us p90 {np.percentile(cpu, 90):8.1f}  ({len(wall):,} calls)"
    )
    return float(np.median(cpu))


def flip_bits(rng: np.random.Generator, code: np.ndarray, count: int) -> np.ndarray:
    bits = np.unpackbits(code)
    bits[rng.choice(256, count, replace=False)] ^= 1
    return np.packbits(bits)


def describe_orm(found: list[tuple[int, int]], banks: list[int]) -> list[object]:
    """The hits described as ``lookup`` did before: the entries and their banks through the ORM."""
    from hotline.hashes.models import MATCHING, Entry

    entries = Entry.objects.select_related("bank").in_bulk([eid for eid, _ in found])
    allowed = set(banks)
    return [
        (eid, entries[eid].bank.name, d)
        for eid, d in found
        if eid in entries and entries[eid].status in MATCHING and entries[eid].bank_id in allowed
    ]


def fill_entries(entries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``entries`` random PDQ entries in two banks (radius 31 and 20), 1 % of them disabled, the version
    bumped: (codes, positions of the disabled ones, bank ids)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from hotline.hashes import services
    from hotline.hashes.models import Bank, Entry, EntryStatus
    from hotline.lib.pdqindex import bytes_to_hex

    codes = rng.integers(0, 256, (entries, 32), dtype=np.uint8)
    hexes = bytes_to_hex(codes)
    wide = Bank.objects.create(name="bench radius 31", kind="import", pdq_radius=31)
    narrow = Bank.objects.create(name="bench radius 20", kind="import", pdq_radius=20)
    now = timezone.now()
    table = Entry._meta.db_table
    json = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"INSERT INTO {table} (bank_id, signal_type, value, classification, scheme, verdict, source_id, extra,"
        f" status, added_at, disabled_reason) VALUES (%s, 'pdq', %s, 'A1', 'bench', 'baseline', '', {json},"
        f" 'active', %s, '')"
    )  # plain executemany: the ORM would take minutes for a million rows on this machine
    step = 50_000
    for begin in range(0, entries, step):
        end = min(begin + step, entries)
        rows = [(wide.pk if n % 4 else narrow.pk, hexes[n], "{}", now) for n in range(begin, end)]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    first = Entry.objects.order_by("pk").values_list("pk", flat=True).first() or 0
    disabled = np.flatnonzero(rng.random(entries) < 0.01)
    for begin in range(0, len(disabled), 2000):
        Entry.objects.filter(pk__in=[first + int(n) for n in disabled[begin : begin + 2000]]).update(
            status=EntryStatus.DISABLED
        )
    services.bump_version()
    return codes, disabled, [wide.pk, narrow.pk]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--database", default="", help="PostgreSQL URL (a scratch database is made); default SQLite")
    parser.add_argument("--max-age", type=float, default=1.0, help="HOTLINE_HASH_INDEX_MAX_AGE for 'now'")
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory()
    from intake_throughput import bench_database

    bench_database(args.database, folder.name)
    from django.conf import settings
    from django.db import connection

    from hotline.hashes import services
    from hotline.hashes.models import IndexVersion
    from hotline.lib.pdqindex import bytes_to_hex, kernel_available

    rng = np.random.default_rng(11)
    start = time.perf_counter()
    codes, disabled, banks = fill_entries(args.entries, rng)
    fill_s = time.perf_counter() - start
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    loaded = services.pdq_index()
    rebuild_s = time.perf_counter() - start
    assert loaded.index is not None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{connection.vendor}: {args.entries:,} PDQ entries in 2 banks ({len(disabled):,} disabled) written in"
        f" {fill_s:.0f} s; index built from the database in {rebuild_s:.1f} s ({len(loaded.index):,} live,"
        f" {loaded.index.layout}); peak RSS {rss_before:,.0f} -> {peak:,.0f} MiB"
    )

    near = args.queries // 2
    picked = rng.integers(0, args.entries, near)
    picked[: near // 4] = rng.choice(disabled, near // 4)  # a quarter of them near a disabled entry
    queries = [flip_bits(rng, codes[n], int(rng.integers(0, RADIUS + 1))) for n in picked]
    queries += list(rng.integers(0, 256, (args.queries - near, 32), dtype=np.uint8))
    order = rng.permutation(len(queries))
    query_hex = [bytes_to_hex(queries[i][None, :])[0] for i in order]

    print("version check (runs before every look-up):")
    orm = show("ORM IndexVersion query (before)", timed(lambda _: IndexVersion.objects.filter(pk=1).first(), query_hex))
    raw = show("plain query (now)", timed(lambda _: services.current_version(), query_hex))
    print(f"  -> {orm / raw:.1f}x")

    paths = (["numba"] if kernel_available() else []) + ["numpy"]
    answers: dict[str, list[Any]] = {}
    figures: dict[str, dict[str, float]] = {}
    for path in paths:
        loaded.index.kernel = path
        services.lookup([("pdq", query_hex[0])], banks=banks)  # compile / warm up
        print(f"{path} path:")
        index_times = timed(loaded.index.search_one, [bytes.fromhex(h) for h in query_hex])  # what lookup() calls
        found: list[object] = []
        every: list[object] = []
        ages = (("every", 0.0, every), ("now", args.max_age, found))
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, _, _ in ages}
        for turn, h in enumerate(query_hex):  # interleaved, the order alternating
            for name, age, into in ages if turn % 2 else ages[::-1]:
                settings.HOTLINE_HASH_INDEX_MAX_AGE = age
                wall, cpu = timed(lambda h, into=into: into.append(services.lookup([("pdq", h)], banks=banks)[0]), [h])  # type: ignore[misc]
                times[name][0].append(wall[0])
                times[name][1].append(cpu[0])
        assert every == found
        answers[path] = found
        hit = [i for i, hits in enumerate(found) if hits]
        miss = [i for i, hits in enumerate(found) if not hits]
        before = show("lookup(), max-age 0 (version read every call)", times["every"])
        figures[path] = {"index": show("index search alone", index_times)}
        for name, label in (("every", "max-age 0"), ("now", f"max-age {args.max_age:g} s")):
            figures[path][f"all_{name}"] = show(f"lookup(), {label}, every call", times[name])
            figures[path][f"miss_{name}"] = show(
                f"lookup(), {label}, no hit ({len(miss):,})",
                tuple([t[i] for i in miss] for t in times[name]),  # type: ignore[arg-type]
            )
            figures[path][f"hit_{name}"] = show(
                f"lookup(), {label}, with a hit ({len(hit):,})",
                tuple([t[i] for i in hit] for t in times[name]),  # type: ignore[arg-type]
            )
        print(f"  -> max-age {args.max_age:g} s / max-age 0, every call: {figures[path]['all_now'] / before:.2f}")
        figures[path]["miss"], figures[path]["hit"] = figures[path]["miss_now"], figures[path]["hit_now"]
    loaded.index.kernel = "auto"
    print("describing the hits (the one query a look-up with a hit makes; bank filter and radius before it):")
    hit_ids = [[(h.entry_id, h.distance) for h in hits] for hits in answers[paths[0]] if hits]
    by_orm = show("ORM in_bulk + select_related (before)", timed(lambda found: describe_orm(found, banks), hit_ids))
    plain = show("one plain query (now)", timed(lambda found: services._describe([found], set(banks)), hit_ids))
    print(f"  -> {by_orm / plain:.1f}x")
    if len(paths) == 2:
        kernel, numpy_path = figures["numba"], figures["numpy"]
        print(f"same hits on both paths: {answers['numba'] == answers['numpy']}")
        labels = (("index", "index search"), ("miss", "lookup() without a hit"), ("hit", "lookup() with a hit"))
        for key, label in labels:
            print(
                f"  {label:24s} CPU p50 {kernel[key]:8.1f} us with the kernel, {numpy_path[key]:8.1f} us numpy path:"
                f" {numpy_path[key] / kernel[key]:.1f}x"
            )
        print(f"  version check plain vs ORM (before): {raw:.1f} vs {orm:.1f} us")
    hits = sum(1 for r in answers["numpy"] if r)
    print(f"{hits:,} of {len(query_hex):,} queries matched (never a disabled entry: checked by the test suite)")
    folder.cleanup()


if __name__ == "__main__":
    main()
