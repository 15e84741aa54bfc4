"""PdqIndex: exact against brute force (numpy popcount) on random and clustered hashes, boundaries at
the radius, changes (add after build, remove, re-add), checkpoints, hex conversion.

Every test runs twice: on the pure-numpy path and on the compiled kernel (numba; skipped where numba
is not installed), and a property test checks that both give identical answers on random hashes
placed exactly at the radius and one past it.

Clustered data: base hashes, each with members at 0..40 random bit flips from the base; queries are
members with 0..20 further flips, so many true neighbours sit right around distance 31.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.conftest import TIMING_HEALTH_CHECKS
from hotline.lib import pdqindex
from hotline.lib.pdqindex import PdqIndex, _Layout, _Segment, bytes_to_hex, hex_to_bytes, hex_to_hash

Codes = npt.NDArray[np.uint8]
Results = list[list[tuple[int, int]]]

RADIUS = 31
HAVE_NUMBA = pdqindex.kernel_available()


@pytest.fixture(autouse=True, params=["numpy", "numba"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test on both search paths (``HOTLINE_PDQ_KERNEL`` picks the path of new indexes)."""
    if request.param == "numba" and not HAVE_NUMBA:
        pytest.skip("numba is not installed")
    monkeypatch.setenv("HOTLINE_PDQ_KERNEL", request.param)
    yield request.param


# ---- data and the reference ----------------------------------------------------------------------


def random_codes(rng: np.random.Generator, count: int) -> Codes:
    return rng.integers(0, 256, (count, 32), dtype=np.uint8)


def flip(rng: np.random.Generator, codes: Codes, counts: npt.NDArray[np.int64]) -> Codes:
    """Flip ``counts[i]`` distinct random bits of row ``i``."""
    permutation = np.argsort(rng.random((len(codes), 256)), axis=1)
    mask = np.zeros((len(codes), 256), dtype=np.uint8)
    np.put_along_axis(mask, permutation, (np.arange(256)[None, :] < counts[:, None]).astype(np.uint8), axis=1)
    return np.packbits(np.unpackbits(codes, axis=1) ^ mask, axis=1)


def clustered_codes(rng: np.random.Generator, count: int, cluster: int = 40, max_flips: int = 40) -> Codes:
    bases = random_codes(rng, -(-count // cluster))
    members = np.repeat(bases, cluster, axis=0)[:count]
    return flip(rng, members, rng.integers(0, max_flips + 1, count))


def queries_for(rng: np.random.Generator, codes: Codes, near: int, far: int, max_flips: int = 20) -> Codes:
    picked = codes[rng.integers(0, len(codes), near)]
    return np.vstack([flip(rng, picked, rng.integers(0, max_flips + 1, near)), random_codes(rng, far)])


def popcount_rows(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    as_bytes = np.ascontiguousarray(words).view(np.uint8)
    table = np.array([bin(v).count("1") for v in range(256)], dtype=np.int64)
    counts: npt.NDArray[np.int64] = table[as_bytes].reshape(*words.shape[:-1], -1).sum(axis=-1)
    return counts


def distance_matrix(codes: Codes, queries: Codes) -> npt.NDArray[np.uint16]:
    """(queries, rows) Hamming distances by numpy popcount."""
    words = codes.view(np.uint64)
    out = np.empty((len(queries), len(codes)), dtype=np.uint16)
    for row, query in enumerate(queries.view(np.uint64)):
        if hasattr(np, "bitwise_count"):
            out[row] = np.bitwise_count(words ^ query).sum(axis=1, dtype=np.uint16)
        else:
            out[row] = popcount_rows(words ^ query)
    return out


def within(ids: npt.NDArray[np.int64], distances: npt.NDArray[np.uint16], radius: int) -> Results:
    """Every (id, distance) within radius, by distance then id: the reference."""
    out: Results = []
    for row in distances:
        hit = np.flatnonzero(row <= radius)
        pairs = zip(ids[hit].tolist(), row[hit].tolist(), strict=True)
        out.append(sorted(pairs, key=lambda p: (p[1], p[0])))
    return out


def brute(ids: npt.NDArray[np.int64], codes: Codes, queries: Codes, radius: int) -> Results:
    return within(ids, distance_matrix(codes, queries), radius)


def segment_results(segment: _Segment, queries: Codes, radius: int) -> Results:
    compiled = pdqindex._compiled(os.environ.get("HOTLINE_PDQ_KERNEL", "auto"))
    qi, ids, distances = segment.search(queries, queries.view(np.uint64), radius, compiled)
    out: Results = [[] for _ in range(len(queries))]
    for q, i, d in zip(qi.tolist(), ids.tolist(), distances.tolist(), strict=True):
        out[q].append((i, d))
    return [sorted(pairs, key=lambda p: (p[1], p[0])) for pairs in out]


def total(results: Results) -> int:
    return sum(len(r) for r in results)


@pytest.fixture(scope="module")
def random_set() -> tuple[Codes, Codes]:
    rng = np.random.default_rng(1)
    codes = random_codes(rng, 50_000)
    return codes, queries_for(rng, codes, 500, 300, max_flips=RADIUS + 2)


@pytest.fixture(scope="module")
def clustered_set() -> tuple[Codes, Codes]:
    rng = np.random.default_rng(2)
    codes = clustered_codes(rng, 50_000)
    return codes, queries_for(rng, codes, 600, 200)


# ---- exactness -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["random_set", "clustered_set"])
def test_exact_against_brute_force(dataset: str, request: pytest.FixtureRequest) -> None:
    codes, queries = request.getfixturevalue(dataset)
    ids = np.arange(len(codes), dtype=np.int64) * 7 + 3
    index = PdqIndex()
    index.add(ids, codes)
    assert index._main.layout is not None  # the MIH path, not brute force
    distances = distance_matrix(codes, queries)
    expected = within(ids, distances, RADIUS)
    assert index.search(queries) == expected
    assert total(expected) >= 400  # the comparison is not vacuous
    assert sum(1 for r in expected for _, d in r if d >= 28) >= 50  # and it covers the boundary
    assert int(np.count_nonzero(distances == RADIUS + 1)) >= 10  # just outside: must not be found
    for radius in (0, 12, 30):
        assert index.search(queries, radius=radius) == within(ids, distances, radius)


@pytest.mark.parametrize("parts", [11, 12, 16, 32])
def test_layouts_exact_on_clustered_data(parts: int) -> None:
    """The layouts used at 1 M - 10 M rows (11, 12) and beyond, forced onto a small clustered set."""
    rng = np.random.default_rng(parts)
    codes = clustered_codes(rng, 12_000, cluster=60)
    queries = queries_for(rng, codes, 300, 50, max_flips=24)
    ids = np.arange(len(codes), dtype=np.int64)
    layout = _Layout.make(parts, RADIUS)
    assert sum(layout.units) == RADIUS + 1  # the pigeonhole budget
    segment = _Segment(ids, codes, RADIUS, layout)
    distances = distance_matrix(codes, queries)
    for radius in (RADIUS, 20):
        assert segment_results(segment, queries, radius) == within(ids, distances, radius)
    assert total(within(ids, distances, RADIUS)) > 300


BUCKET_SIZES = [0, 1, 2, 3, 4, 40, 0, 2, 1, 3, 0, 7]  # rows per bucket: every slot kind, in a row and apart


def test_slots_encode_buckets_of_every_size() -> None:
    """A slot holds the bucket's row (one), its two rows, or where its rows are in ``spill`` (three or more); an
    empty bucket's slot is 0. ``order`` and ``offsets`` (what checkpoints store) come back exactly."""
    rng = np.random.default_rng(30)
    offsets = np.concatenate([[0], np.cumsum(BUCKET_SIZES)]).astype(np.int32)
    order = rng.permutation(int(offsets[-1])).astype(np.int32)
    order[0] = (1 << 31) - 1  # the largest row number a field holds
    slots = np.empty(len(BUCKET_SIZES), dtype=np.uint64)
    spill = pdqindex._pack_slots(slots, offsets, order)
    code, a, b = pdqindex._decode_slots(slots)
    assert code.tolist() == [min(size, 3) for size in BUCKET_SIZES]
    assert slots[np.array(BUCKET_SIZES) == 0].tolist() == [0, 0, 0]
    buckets = [order[offsets[k] : offsets[k + 1]].tolist() for k in range(len(BUCKET_SIZES))]
    assert spill.tolist() == [row for bucket in buckets if len(bucket) >= 3 for row in bucket]
    for k, bucket in enumerate(buckets):
        if len(bucket) in (1, 2):
            assert [int(a[k]), int(b[k])][: len(bucket)] == bucket
        elif bucket:
            assert spill[a[k] : a[k] + b[k]].tolist() == bucket
    back_order, back_offsets = pdqindex._unpack_slots(slots, spill, len(order))
    assert back_order.tolist() == order.tolist() and back_offsets.tolist() == offsets.tolist()
    empty = np.empty(4, dtype=np.uint64)
    assert pdqindex._pack_slots(empty, np.zeros(5, np.int32), np.empty(0, np.int32)).tolist() == []
    assert empty.tolist() == [0, 0, 0, 0]


def test_buckets_of_every_size_are_searched_exactly() -> None:
    """Rows sharing a table's key by 0, 1, 2, 3 ... 40 (every slot kind), some removed: the search finds every
    live row within the radius on both paths."""
    rng = np.random.default_rng(31)
    query = random_codes(rng, 1)
    groups = []
    for key, size in enumerate(BUCKET_SIZES):  # table 0 of the 32-table layout is keyed by byte 0
        members = flip(rng, np.repeat(query, size, axis=0), rng.integers(0, 36, size))
        members[:, 0] = key
        groups.append(members)
    others = random_codes(rng, 3000)
    others[:, 0] = rng.integers(len(BUCKET_SIZES), 256, len(others))  # the buckets above hold only their rows
    codes = np.vstack([*groups, others])
    ids = rng.permutation(len(codes)).astype(np.int64) * 5
    segment = _Segment(ids, codes, RADIUS, _Layout.make(32, RADIUS))
    offsets = segment.tables[0].order_and_offsets(len(codes))[1]
    assert np.diff(offsets)[: len(BUCKET_SIZES)].tolist() == BUCKET_SIZES
    alive = rng.random(len(codes)) > 0.2
    segment.alive[:] = alive[np.argsort(ids)]
    queries = np.repeat(query, 1 + len(BUCKET_SIZES), axis=0)
    queries[1:, 0] = np.arange(len(BUCKET_SIZES))  # each bucket's own key too
    for radius in (RADIUS, 12, 0):
        expected = brute(ids[alive], codes[alive], queries, radius)
        assert segment_results(segment, queries, radius) == expected
    assert total(brute(ids[alive], codes[alive], queries, RADIUS)) >= 40


def test_pigeonhole_budget_for_every_layout() -> None:
    for radius in range(0, 65):
        for parts in range(1, 65):
            layout = _Layout.make(parts, radius)
            assert sum(layout.lengths) == 256
            assert sum(layout.units) == radius + 1
            smaller = _Layout.make(parts, max(radius - 5, 0)).units
            assert all(s <= u for s, u in zip(smaller, layout.units, strict=True))  # smaller radius: fewer probes


def test_boundary_31_and_32() -> None:
    rng = np.random.default_rng(5)
    query = random_codes(rng, 1)
    distances = np.arange(0, 41)
    ring = flip(rng, np.repeat(query, len(distances), axis=0), distances)
    filler = random_codes(rng, 20_000)
    index = PdqIndex()
    index.add(np.arange(1000, 21_000), filler)
    index.add(distances, ring)  # ids = their distance to the query
    index.compact()  # all in the MIH tier
    assert index._main.layout is not None
    found = index.search(query)[0]
    assert found == [(d, d) for d in range(32)]
    assert index.search(query, radius=30)[0] == [(d, d) for d in range(31)]
    assert index.search(query, radius=0)[0] == [(0, 0)]


def test_complement_is_distance_256() -> None:
    """The batched popcount sums bytes modulo 256: a bitwise complement must still not match."""
    rng = np.random.default_rng(6)
    query = random_codes(rng, 1)
    complement = np.bitwise_not(query)
    small = PdqIndex()
    small.add([1, 2], np.vstack([complement, query]))
    assert small._tail.layout is None  # brute-force tier
    assert small.search(query) == [[(2, 0)]]
    everything = PdqIndex(radius=256)
    everything.add([1, 2], np.vstack([complement, query]))
    assert everything.search(query) == [[(2, 0), (1, 256)]]


def test_other_index_radius() -> None:
    rng = np.random.default_rng(7)
    codes = clustered_codes(rng, 20_000, max_flips=16)
    queries = queries_for(rng, codes, 200, 50, max_flips=12)
    ids = np.arange(len(codes), dtype=np.int64)
    index = PdqIndex(radius=10)
    index.add(ids, codes)
    assert index.search(queries) == brute(ids, codes, queries, 10)
    with pytest.raises(ValueError, match="radius"):
        index.search(queries, radius=11)


# ---- changes -------------------------------------------------------------------------------------


def test_incremental_add_across_tiers() -> None:
    rng = np.random.default_rng(8)
    codes = clustered_codes(rng, 40_000)
    ids = rng.permutation(1_000_000)[: len(codes)].astype(np.int64)
    queries = queries_for(rng, codes, 400, 100)
    index = PdqIndex()
    steps = [(0, 20_000), (20_000, 20_100), (20_100, 23_000), (23_000, 23_500), (23_500, 40_000)]
    tiers = []
    for begin, end in steps:
        version = index.version
        index.add(ids[begin:end], codes[begin:end])
        assert index.version == version + 1
        assert len(index) == end
        tiers.append((len(index._main), len(index._delta), len(index._tail)))
        expected = brute(ids[:end], codes[:end], queries, RADIUS)
        assert index.search(queries) == expected
        assert [index.search_one(q.tobytes()) for q in queries[::7]] == expected[::7]  # every tier, one hash a call
    # main built, then the tail, then a delta, then the tail again, then everything merged into main
    assert tiers == [(20_000, 0, 0), (20_000, 0, 100), (20_000, 3000, 0), (20_000, 3000, 500), (40_000, 0, 0)]


def test_remove_hides_immediately_and_readd() -> None:
    rng = np.random.default_rng(9)
    codes = clustered_codes(rng, 30_000)
    ids = np.arange(len(codes), dtype=np.int64)
    queries = queries_for(rng, codes, 300, 0)
    index = PdqIndex()
    index.add(ids[:25_000], codes[:25_000])  # main
    index.add(ids[25_000:28_000], codes[25_000:28_000])  # delta
    index.add(ids[28_000:], codes[28_000:])  # tail
    before = index.search(queries)
    gone = {i for r in before for i, _ in r[:2]} | {25_001, 28_001, 29_999}
    version = index.version
    index.remove(gone | {10**12})  # an unknown id is ignored
    assert index.version == version + 1
    assert len(index) == len(ids) - len(gone)
    assert all(i not in index for i in gone)
    keep = np.array([i not in gone for i in ids.tolist()])
    after = index.search(queries)
    assert after == brute(ids[keep], codes[keep], queries, RADIUS)
    assert not {i for r in after for i, _ in r} & gone
    assert [index.search_one(q.tobytes()) for q in queries] == after  # removed rows: gone on the one-hash path too
    # a removed id can come back with another hash
    fresh = random_codes(rng, 1)
    index.add([25_001], fresh)
    assert index.search(fresh) == [[(25_001, 0)]]
    with pytest.raises(ValueError, match="already in the index"):
        index.add([25_001], fresh)
    index.compact()
    assert len(index) == len(ids) - len(gone) + 1
    assert index.search(queries) == after


def test_add_rejects_bad_input() -> None:
    rng = np.random.default_rng(10)
    index = PdqIndex()
    index.add([1, 2], random_codes(rng, 2))
    version = index.version
    with pytest.raises(ValueError, match="duplicate"):
        index.add([3, 3], random_codes(rng, 2))
    with pytest.raises(ValueError, match="already"):
        index.add([2, 4], random_codes(rng, 2))
    with pytest.raises(ValueError, match="quality below 50"):
        index.add([5, 6], random_codes(rng, 2), qualities=[90, 49])
    with pytest.raises(ValueError, match=r"\(n, 32\) uint8"):
        index.add([7], np.zeros((1, 31), dtype=np.uint8))
    with pytest.raises(ValueError, match="ids for"):
        index.add([8, 9], random_codes(rng, 1))
    assert index.version == version and len(index) == 2
    index.add([5, 6], random_codes(rng, 2), qualities=[50, 100])
    with pytest.raises(ValueError, match="quality below 50"):
        index.search(random_codes(rng, 1), qualities=[10])


def test_empty_index_and_queries() -> None:
    index = PdqIndex()
    assert len(index) == 0
    assert index.search(np.zeros((2, 32), dtype=np.uint8)) == [[], []]
    index.add([1], np.zeros((1, 32), dtype=np.uint8))
    assert index.search(np.zeros((0, 32), dtype=np.uint8)) == []


# ---- checkpoints ---------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path, clustered_set: tuple[Codes, Codes]) -> None:
    codes, queries = clustered_set
    ids = np.arange(len(codes), dtype=np.int64) + 10**10
    index = PdqIndex()
    index.add(ids[:40_000], codes[:40_000])  # main
    index.add(ids[40_000:49_000], codes[40_000:49_000])  # delta
    index.add(ids[49_000:], codes[49_000:])  # tail
    index.remove(ids[::3].tolist())
    expected = index.search(queries)
    path = tmp_path / "banks.pdqindex"
    index.save(path)
    assert not (tmp_path / "banks.pdqindex.tmp").exists()
    loaded = PdqIndex.load(path)
    assert loaded.version == index.version == 4
    assert loaded.radius == RADIUS
    assert [len(s) for _, s in loaded._tiers()] == [40_000, 9_000, 1_000]
    # the file keeps int32 offsets (the format of before); the slots are derived from them on load
    with np.load(path) as data:
        assert data["main_offsets0"].dtype == np.int32
    for (_, built), (_, read) in zip(index._tiers(), loaded._tiers(), strict=True):
        assert np.array_equal(built.slots_all, read.slots_all) if built.tables else not read.tables
    assert len(loaded) == len(index) == len(ids) - len(ids[::3])
    assert loaded.search(queries) == expected == index.search(queries)
    assert loaded.search(queries, radius=20) == index.search(queries, radius=20)
    for _, segment in (*index._tiers(), *loaded._tiers()):  # one cache line per code, built or loaded
        assert segment.codes.ctypes.data % pdqindex.CACHE_LINE == 0 and segment.codes.flags.c_contiguous
    assert total(expected) > 0
    # the loaded index keeps changing like the original
    for changed in (index, loaded):
        changed.remove(ids[1:300:3].tolist())
        changed.add(ids[:6:3], codes[:6:3])
    assert loaded.search(queries) == index.search(queries)


def test_checkpoints_keep_the_format_of_before(tmp_path: Path) -> None:
    """A checkpoint stores each table as rows sorted by key (``order``), int32 bucket bounds (``offsets``) and the
    bitmap, as before the slots carried the rows: ``save`` writes exactly those (derived from the slots), and a
    checkpoint built that way by hand (what the code of before wrote) loads and answers as the index it came from."""
    rng = np.random.default_rng(32)
    codes = np.vstack([clustered_codes(rng, 8000, cluster=20, max_flips=6), random_codes(rng, 4000)])
    ids = rng.permutation(len(codes)).astype(np.int64) + 100
    queries = queries_for(rng, codes, 200, 50)
    index = PdqIndex()
    index.add(ids, codes)
    index.remove(ids[::7].tolist())
    path = tmp_path / "new.npz"
    index.save(path)
    with np.load(path) as data:
        written = dict(data)
    segment = index._main
    by_hand = dict(written)
    kinds = set()
    for number, table in enumerate(segment.tables):
        keys = pdqindex._substring_keys(segment.codes, table.start, table.length)
        counts = np.bincount(keys, minlength=1 << table.length)
        kinds |= set(np.minimum(counts, 3).tolist())
        by_hand[f"main_order{number}"] = np.argsort(keys, kind="stable").astype(np.int32)
        by_hand[f"main_offsets{number}"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        by_hand[f"main_occupied{number}"] = np.packbits(counts > 0, bitorder="little")
        for kind in ("order", "offsets", "occupied"):
            name = f"main_{kind}{number}"
            assert written[name].dtype == by_hand[name].dtype and np.array_equal(written[name], by_hand[name]), name
    assert kinds == {0, 1, 2, 3}  # every slot kind was written and read back
    old = tmp_path / "old.npz"
    with open(old, "wb") as handle:
        np.savez(handle, **by_hand)
    loaded = PdqIndex.load(old)
    assert np.array_equal(loaded._main.slots_all, segment.slots_all)
    assert np.array_equal(loaded._main.spill_all, segment.spill_all)
    keep = np.isin(ids, ids[::7], invert=True)
    expected = brute(ids[keep], codes[keep], queries, RADIUS)
    assert loaded.search(queries) == index.search(queries) == expected
    assert [loaded.search_one(q.tobytes()) for q in queries[:50]] == expected[:50]


def test_damaged_checkpoint_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    index = PdqIndex()
    index.add(np.arange(5000), random_codes(rng, 5000))
    path = tmp_path / "index.npz"
    index.save(path)
    with np.load(path) as data:
        arrays = dict(data)
    layout = arrays["main_layout"].copy()
    layout[2, 0] -= 1  # one unit less: no longer exact at radius 31
    with open(path, "wb") as handle:
        np.savez(handle, **{**arrays, "main_layout": layout})
    with pytest.raises(ValueError, match="not exact"):
        PdqIndex.load(path)
    with open(path, "wb") as handle:
        np.savez(handle, **{**arrays, "main_offsets0": arrays["main_offsets0"][:-1]})
    with pytest.raises(ValueError, match="damaged"):
        PdqIndex.load(path)
    bitmap = arrays["main_occupied1"].copy()
    bitmap[np.flatnonzero(bitmap != 0xFF)[0]] ^= 0xFF  # marks empty buckets as holding rows (and the reverse)
    with open(path, "wb") as handle:
        np.savez(handle, **{**arrays, "main_occupied1": bitmap})
    with pytest.raises(ValueError, match="table 1 bitmap"):
        PdqIndex.load(path)
    (tmp_path / "other.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        PdqIndex.load(tmp_path / "other.npz")


# ---- hex -----------------------------------------------------------------------------------------


def test_hex_round_trip_and_distance() -> None:
    rng = np.random.default_rng(11)
    hexes = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(200)]
    codes = hex_to_bytes(hexes)
    assert codes.shape == (200, 32) and codes.dtype == np.uint8
    assert bytes_to_hex(codes) == hexes
    assert hex_to_bytes([h.upper() for h in hexes]).tobytes() == codes.tobytes()
    assert [hex_to_hash(h) for h in hexes] == [row.tobytes() for row in codes]  # one hash: the same bytes
    words = codes.view(np.uint64)
    for a in range(0, 200, 7):
        for b in range(0, 200, 11):
            expected = (int(hexes[a], 16) ^ int(hexes[b], 16)).bit_count()
            assert int(popcount_rows(words[a] ^ words[b])) == expected
    # one bit: the last hex digit's lowest bit is the last byte's lowest bit
    base = "0" * 64
    one = hex_to_bytes([base[:-1] + "1", "8" + base[1:]])
    assert one[0, 31] == 1 and one[1, 0] == 0x80
    index = PdqIndex()
    index.add(np.arange(200), codes)
    for query in range(0, 200, 25):
        for found, distance in index.search(codes[query : query + 1], radius=31)[0]:
            assert distance == (int(hexes[query], 16) ^ int(hexes[found], 16)).bit_count()


def test_hex_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        hex_to_bytes(["abc"])
    with pytest.raises(ValueError, match="not a hex"):
        hex_to_bytes(["z" * 64])
    with pytest.raises(TypeError):
        hex_to_bytes("0" * 64)
    assert hex_to_bytes([]).shape == (0, 32)
    with pytest.raises(ValueError, match="64 hex digits"):
        hex_to_hash("abc")
    with pytest.raises(ValueError, match="not a hex"):
        hex_to_hash("z" * 64)


def test_layout_choice_for_large_sets() -> None:
    """The layouts the benchmark measures (docs/pdq-index.md): 12 tables at 1 M, 11 at 10 M."""
    one_m = pdqindex._choose_layout(1_000_000, RADIUS)
    ten_m = pdqindex._choose_layout(10_000_000, RADIUS)
    assert one_m is not None and len(one_m.lengths) == 12 and sum(one_m.probes(RADIUS)) == 2032
    assert ten_m is not None and len(ten_m.lengths) == 11 and sum(ten_m.probes(RADIUS)) == 2866
    assert pdqindex._choose_layout(100, RADIUS) is None  # brute force


# ---- the compiled kernel against the numpy path ----------------------------------------------------


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
@settings(max_examples=40, suppress_health_check=[*TIMING_HEALTH_CHECKS, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    parts=st.sampled_from([None, 14, 16, 20, 32]),
    rows=st.integers(0, 3000),
    radius=st.sampled_from([0, 1, 15, 30, 31]),
)
def test_it_gives_identical_answers_with_and_without_the_kernel(
    kernel: str, seed: int, parts: int | None, rows: int, radius: int
) -> None:
    """Random rows plus, per query, rows at exactly 31 and 32 bits (and 0, 1, 30): same pairs from both."""
    if kernel != "numpy":
        return  # one run is enough: the test itself compares the two paths
    rng = np.random.default_rng(seed)
    queries = random_codes(rng, 8)
    ring_distances = np.array([0, 1, 30, 31, 32, 33] * len(queries))
    ring = flip(rng, np.repeat(queries, 6, axis=0), ring_distances)
    codes = np.vstack([random_codes(rng, rows), ring])
    ids = rng.permutation(len(codes)).astype(np.int64) * 3 + 1
    alive = rng.random(len(codes)) > 0.1
    expected = brute(ids[alive], codes[alive], queries, radius)
    layout = None if parts is None else _Layout.make(parts, RADIUS)
    segment = _Segment(ids, codes, RADIUS, layout)
    segment.alive[:] = alive[np.argsort(ids)]  # the segment keeps its rows sorted by id
    with_numpy = _sorted(segment.search(queries, queries.view(np.uint64), radius), len(queries))
    compiled = pdqindex._compiled("numba")
    with_kernel = _sorted(segment.search(queries, queries.view(np.uint64), radius, compiled), len(queries))
    assert with_numpy == expected
    assert with_kernel == expected
    if radius == RADIUS:
        assert sum(1 for r in expected for _, d in r if d == RADIUS) >= 1  # the edge is covered
    index = PdqIndex(kernel="numba")
    index.add(ids[alive], codes[alive])
    slow = PdqIndex(kernel="numpy")
    slow.add(ids[alive], codes[alive])
    assert index.search(queries, radius=radius) == slow.search(queries, radius=radius) == expected
    assert [index.search(q[None, :], radius=radius)[0] for q in queries] == expected  # one query at a time
    assert [index.search_one(q.tobytes(), radius=radius) for q in queries] == expected
    assert [slow.search_one(q.tobytes(), radius=radius) for q in queries] == expected


def _sorted(found: tuple[npt.NDArray[np.int64], ...], count: int) -> Results:
    out: Results = [[] for _ in range(count)]
    for q, i, d in zip(*(part.tolist() for part in found), strict=True):
        out[q].append((i, d))
    return [sorted(pairs, key=lambda p: (p[1], p[0])) for pairs in out]


def test_search_one_answers_as_search_does(kernel: str) -> None:
    """``search_one`` (one hash as its 32 bytes, the product's look-up) gives ``search``'s pairs, in its
    order, at every radius up to the index's, with ties at one distance ordered by id; it refuses what
    ``search`` refuses."""
    rng = np.random.default_rng(23)
    query = random_codes(rng, 1)
    ring = flip(rng, np.repeat(query, 12, axis=0), np.array([0, 3, 3, 3, 17, 30, 31, 31, 32, 33, 40, 256]))
    codes = np.vstack([random_codes(rng, 20_000), ring])
    ids = rng.permutation(len(codes)).astype(np.int64)
    index = PdqIndex()
    index.add(ids, codes)
    for radius in (None, 0, 3, 31):
        expected = brute(ids, codes, query, RADIUS if radius is None else radius)[0]
        assert index.search_one(query.tobytes(), radius=radius) == index.search(query, radius=radius)[0] == expected
        assert index.search_one(bytearray(query.tobytes()), radius=radius) == expected
    assert [d for _, d in index.search_one(query.tobytes())] == [0, 3, 3, 3, 17, 30, 31, 31]
    assert PdqIndex().search_one(query.tobytes()) == []
    with pytest.raises(ValueError, match="32 bytes"):
        index.search_one(query.tobytes()[:31])
    with pytest.raises(ValueError, match="radius"):
        index.search_one(query.tobytes(), radius=32)


def test_it_refuses_an_unknown_kernel() -> None:
    with pytest.raises(ValueError, match="kernel"):
        PdqIndex(kernel="gpu")


def test_it_falls_back_to_numpy_when_the_kernel_cannot_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel that fails on first use (no writable cache, an LLVM error) leaves the numpy path."""
    if not HAVE_NUMBA:
        pytest.skip("numba is not installed")
    from hotline.lib import pdqkernel

    def broken(*args: object) -> None:
        raise RuntimeError("cannot cache function")

    monkeypatch.setattr(pdqkernel, "brute_search", broken)
    assert pdqindex._load_kernel() is None


def test_more_pairs_than_the_kernels_buffer_holds(kernel: str) -> None:
    """The kernel writes into a per-thread buffer and returns a count; when the pairs outgrow it, the
    search runs again with room for all of them (the same answers either way)."""
    rng = np.random.default_rng(21)
    base = random_codes(rng, 1)
    codes = np.vstack([flip(rng, np.repeat(base, 3000, axis=0), rng.integers(0, 6, 3000)), random_codes(rng, 3000)])
    ids = np.arange(len(codes), dtype=np.int64)
    expected = brute(ids, codes, base, RADIUS)
    assert len(expected[0]) >= 3000
    for layout in (None, _Layout.make(16, RADIUS)):
        segment = _Segment(ids, codes, RADIUS, layout)
        pdqindex._BUFFERS.out = np.empty((3, 8), dtype=np.int64)  # far too small
        compiled = pdqindex._compiled(kernel)
        found = _sorted(segment.search(base, base.view(np.uint64), RADIUS, compiled), 1)
        assert found == expected
