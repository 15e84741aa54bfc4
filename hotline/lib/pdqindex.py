"""Exact PDQ search within a Hamming radius (default 31): multi-index hashing in numpy.

Why it is exact (pigeonhole)
    The 256 bits are cut into ``m`` contiguous substrings and substring ``i`` gets a budget of
    ``u_i >= 0`` units with ``sum(u_i) = r + 1``. If two hashes are at distance ``d <= r`` and every
    substring ``i`` differed in ``>= u_i`` bits, then ``d >= sum(u_i) = r + 1``: a contradiction. So some
    substring ``i`` differs in at most ``t_i = u_i - 1`` bits. For every used substring we keep a table
    of all rows keyed by that substring; a query probes, in table ``i``, its own key XOR every mask
    of at most ``t_i`` bits. Every true neighbour is therefore among the candidates, and every
    candidate is checked on all 256 bits, so there are no false matches either. For radius 31 the
    layout from ~1.1 M rows up is ``m = 11`` (three 24-bit and eight 23-bit substrings), ``t = 2`` on
    ten of them and ``t = 1`` on the last: ``10 * 3 + 2 = 32 = r + 1``; 2,866 probes per query. At
    0.5 - 1 M rows it is ``m = 12`` (22/21 bits, ``8 * 3 + 4 * 2 = 32``; 2,032 probes). A search
    with a smaller radius ``r'`` uses the thresholds of ``r'`` (never larger), so it probes less and
    stays exact.

Layout choice
    ``_choose_layout`` picks ``m`` for the number of rows from a cost model (probes vs candidates to
    verify, both measured in ns on one core) with at most ``MAX_TABLE_BITS`` bits per substring
    (each table has a direct-address slot array of ``2**b`` uint64) and no more than
    ``16 * n`` slots per table; small sets are scanned by brute force. See ``docs/pdq-index.md``.

Tables
    Per substring: ``slots`` (uint64, ``2**b``, one a bucket: how many rows it holds in the top two bits
    (0, 1, 2, or 3 for three or more), then two 31-bit fields: its one row, its two rows, or where its rows
    are in ``spill``), ``spill`` (int32 rows of the buckets holding three or more, sorted by key) and a
    bitmap of non-empty buckets (``2**b`` bits, small enough to stay in cache, so empty probes cost
    ~3 ns; the compiled kernel skips it on a dense table, of half a row per bucket or more, where
    most probes find a row anyway). The codes start on a cache line (one line per code). Candidates
    are verified in batches: gather the 32-byte rows, XOR, ``popcount`` per 64-bit word, add the four
    byte counts with one multiply (``* 0x01010101 >> 24``, exact except that 256 wraps to 0; every kept
    match is recomputed exactly).

Changes
    Three tiers, each with its own ``alive`` flags: ``main`` (MIH), ``delta`` (MIH, rebuilt on its own
    when the tail overflows) and ``tail`` (up to ``TAIL_MAX`` newest rows, scanned by brute force).
    :meth:`PdqIndex.add` is visible to the next search; :meth:`PdqIndex.remove` clears ``alive`` at
    once (disabled rows are never returned) and the rows are dropped when their tier is rebuilt
    (:meth:`PdqIndex.compact`, or when ``delta`` grows past a quarter of ``main`` and is merged into
    it). ``version`` goes up by one on every ``add``/``remove`` call.

Checkpoints
    :meth:`PdqIndex.save` writes every tier with its tables, flags, radius and ``version`` to one
    ``.npz`` (temporary file, then rename); :meth:`PdqIndex.load` reads it back without rebuilding
    (10 M rows: ~1.3 GB; a rebuild from the hashes alone takes ~15 s). The file keeps each table as ``order`` (rows
    sorted by key) and int32 ``offsets``, the format of before the slots carried the rows; slots and spill are
    derived from them on load. A worker can compare the
    loaded ``version`` with the one the database holds and reload or replay changes when they differ.

Compiled kernel (optional)
    With numba installed, calls of up to ``KERNEL_MAX_BATCH`` queries (every call since the kernel
    prefetches its reads, December 2026: 1.4-1.5x the numpy path's throughput on batches too) run through
    :mod:`hotline.lib.pdqkernel` (one loop instead of ~180 numpy calls: ~50 us instead of ~700 us per
    query at 1 M rows). ``kernel=`` /
    ``HOTLINE_PDQ_KERNEL`` = ``auto`` | ``numba`` | ``numpy``. Both give identical answers (tested).

Not thread-safe: guard an index shared between threads with a lock (searches only read).
Measured on one core (``bench/pdq_index.py``, ``docs/pdq-index.md``): 1 M hashes 15-20 k queries/s,
217 MiB; 10 M hashes 5.4-5.8 k queries/s, 1.27 GiB (tables of 2026-11; 1.38 GiB since December 2026's slots,
``nbytes``); 100 % recall against brute force.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_RADIUS",
    "HASH_BYTES",
    "MIN_QUALITY",
    "PdqIndex",
    "bytes_to_hex",
    "hex_to_bytes",
    "hex_to_hash",
]

HASH_BITS = 256
HASH_BYTES = 32
DEFAULT_RADIUS = 31
MIN_QUALITY = 50  # hashes below this PDQ quality are refused (flat or tiny images: unreliable)
MAX_TABLE_BITS = 24  # slots of 2**24 uint64 = 128 MiB per table
MAX_SLOTS_PER_ROW = 16  # 2**b <= 16 * n: no table much larger than the data it indexes
MAX_MASKS = 50_000  # probes per table and query; beyond that the layout is not considered
TAIL_MAX = 2048  # newest rows kept unindexed and scanned by brute force
DELTA_FRACTION = 4  # delta is merged into main when it holds more than main / 4 rows
PROBE_BATCH = 1 << 21  # probe keys per numpy batch (queries x probes)
BRUTE_BATCH = 1 << 21  # query x row pairs per brute-force batch
_FORMAT = 1
# kernel 'auto': compiled search up to this many queries per call, numpy above. Was 64 until the kernel prefetched
# its reads (December 2026); since then the kernel is faster on batches as well (docs/pdq-index.md, fifth round)
KERNEL_MAX_BATCH = sys.maxsize

# Cost model (ns on one core, measured with bench/pdq_index.py on an AMD EPYC, numpy 2.4).
_NS_PROBE = 12.0
_NS_CANDIDATE = 25.0
_NS_BRUTE_ROW = 3.0

UInt8Array = npt.NDArray[np.uint8]
UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

_POP8 = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


def _popcount64(words: UInt64Array) -> UInt8Array:
    """Bits set in each uint64 (same shape, uint8)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        counts: UInt8Array = np.bitwise_count(words)
        return counts
    per_byte = _POP8[np.ascontiguousarray(words).view(np.uint8)]
    summed: UInt8Array = per_byte.reshape(*words.shape, 8).sum(axis=-1, dtype=np.uint8)
    return summed


def _distance_mod256(words: UInt64Array) -> npt.NDArray[np.uint32]:
    """Hamming weight of each row of a C-contiguous (k, 4) uint64 array, modulo 256 (256 reads as 0)."""
    counts = _popcount64(words)  # (k, 4) uint8, each <= 64
    summed: npt.NDArray[np.uint32] = (counts.view(np.uint32).reshape(-1) * np.uint32(0x01010101)) >> np.uint32(24)
    return summed


def _distance(words: UInt64Array) -> Int64Array:
    """Exact Hamming weight of each row of a (k, 4) uint64 array."""
    distances: Int64Array = _popcount64(words).sum(axis=1, dtype=np.int64)
    return distances


# ---- hex <-> bytes ------------------------------------------------------------------------------


def hex_to_bytes(hexes: Sequence[str]) -> UInt8Array:
    """64-digit PDQ hex strings (as ``hotline.lib.pdq`` and the reference print them) -> (n, 32) uint8.

    Byte ``k`` holds hex digits ``2k, 2k+1`` (big-endian: the 256-bit number MSB first), so the Hamming
    distance of two rows equals ``(int(a, 16) ^ int(b, 16)).bit_count()``.
    """
    if isinstance(hexes, str):
        raise TypeError("hex_to_bytes takes a sequence of hex strings, not one string")
    hexes = list(hexes)
    for value in hexes:
        _check_length(value)
    raw = _from_hex("".join(hexes))
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(hexes), HASH_BYTES).copy()


def hex_to_hash(value: str) -> bytes:
    """One 64-digit PDQ hex string -> its 32 bytes (a row of :func:`hex_to_bytes`, checked the same way, without
    the array: what :meth:`PdqIndex.search_one` takes)."""
    _check_length(value)
    return _from_hex(value)


def _check_length(value: str) -> None:
    if len(value) != 2 * HASH_BYTES:
        raise ValueError(f"a PDQ hash is {2 * HASH_BYTES} hex digits, got {value!r}")


def _from_hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"not a hex string: {exc}") from exc


def bytes_to_hex(hashes: npt.ArrayLike) -> list[str]:
    """(n, 32) uint8 -> 64-digit lowercase hex strings; the inverse of :func:`hex_to_bytes`."""
    array = _as_hashes(hashes, "hashes")
    text = array.tobytes().hex()
    width = 2 * HASH_BYTES
    return [text[start : start + width] for start in range(0, len(text), width)]


def _as_hashes(hashes: npt.ArrayLike, name: str) -> UInt8Array:
    array = np.asarray(hashes)
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != HASH_BYTES:
        raise ValueError(f"{name} must be a (n, {HASH_BYTES}) uint8 array, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)


CACHE_LINE = 64


def _line_aligned(codes: UInt8Array, order: Int64Array | None = None) -> UInt8Array:
    """``codes`` (in ``order``, if given) in a new array that begins on a cache line. numpy starts a large array
    16 bytes past one, so every other 32-byte code straddled two lines: two misses, the second one not
    prefetched, where one does (docs/pdq-index.md, sixth round)."""
    count = len(codes) if order is None else len(order)
    buffer = np.empty(count * HASH_BYTES + CACHE_LINE, dtype=np.uint8)
    skip = -buffer.ctypes.data % CACHE_LINE
    aligned = buffer[skip : skip + count * HASH_BYTES].reshape(count, HASH_BYTES)
    if order is None:
        aligned[...] = codes
    else:
        np.take(codes, order, axis=0, out=aligned)
    return aligned


def _check_quality(qualities: npt.ArrayLike | None, count: int, name: str) -> None:
    if qualities is None:
        return
    values = np.asarray(qualities).reshape(-1)
    if values.size != count:
        raise ValueError(f"{name}: {values.size} qualities for {count} hashes")
    low = int(np.count_nonzero(values < MIN_QUALITY))
    if low:
        raise ValueError(f"{name}: {low} hash(es) with PDQ quality below {MIN_QUALITY} are refused")


# ---- layout -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """``m`` contiguous substrings (longest first) and their units at radius ``r`` (``t = units - 1``)."""

    starts: tuple[int, ...]
    lengths: tuple[int, ...]
    units: tuple[int, ...]

    @classmethod
    def make(cls, parts: int, radius: int) -> _Layout:
        size, longer = divmod(HASH_BITS, parts)
        lengths = tuple(size + 1 if i < longer else size for i in range(parts))
        starts = tuple(int(sum(lengths[:i])) for i in range(parts))
        return cls(starts, lengths, _units(parts, radius))

    def probes(self, radius: int) -> list[int]:
        return [
            _mask_count(length, unit - 1)
            for length, unit in zip(self.lengths, _units(len(self.lengths), radius), strict=True)
        ]


def _units(parts: int, radius: int) -> tuple[int, ...]:
    """Split ``radius + 1`` units over ``parts`` substrings, the extra ones to the first (longest)."""
    each, extra = divmod(radius + 1, parts)
    return tuple(each + 1 if i < extra else each for i in range(parts))


def _mask_count(bits: int, threshold: int) -> int:
    return sum(comb(bits, k) for k in range(threshold + 1)) if threshold >= 0 else 0


def _layout_cost(layout: _Layout, rows: int, radius: int) -> float:
    cost = 0.0
    for length, probes in zip(layout.lengths, layout.probes(radius), strict=True):
        if probes:
            cost += probes * (_NS_PROBE + _NS_CANDIDATE * rows / 2.0**length)
    return cost


def _choose_layout(rows: int, radius: int) -> _Layout | None:
    """The cheapest exact layout for ``rows`` rows at ``radius``; ``None``: brute force is cheaper."""
    best: _Layout | None = None
    best_cost = _NS_BRUTE_ROW * rows
    for parts in range(1, HASH_BITS // 4 + 1):
        layout = _Layout.make(parts, radius)
        used = [(length, unit) for length, unit in zip(layout.lengths, layout.units, strict=True) if unit > 0]
        if any(length > MAX_TABLE_BITS or 2**length > MAX_SLOTS_PER_ROW * max(rows, 1) for length, _ in used):
            continue
        if any(_mask_count(length, unit - 1) > MAX_MASKS for length, unit in used):
            continue
        cost = _layout_cost(layout, rows, radius)
        if cost < best_cost:
            best, best_cost = layout, cost
    return best


def _masks(bits: int, threshold: int) -> Int64Array:
    """All masks of ``bits`` bits with at most ``threshold`` ones, by increasing popcount."""
    values = [0]
    for ones in range(1, threshold + 1):
        for positions in combinations(range(bits), ones):
            values.append(sum(1 << p for p in positions))
    return np.array(values, dtype=np.int64)


def _substring_keys(codes: UInt8Array, start: int, length: int) -> Int64Array:
    """Bits ``start .. start + length - 1`` (MSB first) of every row, as integers."""
    first, last = start // 8, (start + length - 1) // 8
    acc = codes[:, first].astype(np.int64)
    for column in range(first + 1, last + 1):
        acc <<= 8
        acc |= codes[:, column]
    acc >>= 8 * (last + 1) - (start + length)
    acc &= (1 << length) - 1
    return acc


# ---- segments -----------------------------------------------------------------------------------


@dataclass
class _Table:
    start: int
    length: int
    slots: UInt64Array  # 2**length: each bucket's rows, or where they are in ``spill`` (see ``_pack_slots``)
    spill: Int32Array  # the rows of the buckets holding three or more, sorted by key
    occupied: UInt8Array  # bitmap of non-empty buckets, little bit order
    masks: Int64Array  # masks for the index radius, by popcount

    def order_and_offsets(self, rows: int) -> tuple[Int32Array, Int32Array]:
        """Row numbers sorted by key and the bucket bounds (bucket ``k`` is ``order[offsets[k] : offsets[k + 1]]``):
        what the checkpoint stores, the format the tables had before the slots carried the rows."""
        return _unpack_slots(self.slots, self.spill, rows)


class _Segment:
    """An immutable set of rows (sorted by id) with MIH tables or none (brute force); ``alive`` mutable."""

    def __init__(self, ids: Int64Array, codes: UInt8Array, radius: int, layout: _Layout | None = None) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids: Int64Array = np.ascontiguousarray(ids[order], dtype=np.int64)
        self.codes: UInt8Array = _line_aligned(codes, order)
        self.words: UInt64Array = self.codes.view(np.uint64)  # (n, 4)
        self.alive: BoolArray = np.ones(len(self.ids), dtype=np.bool_)
        self.radius = radius
        self.layout = layout
        self.tables: list[_Table] = []
        if layout is not None:
            used = [(a, b, u) for a, b, u in zip(layout.starts, layout.lengths, layout.units, strict=True) if u > 0]
            self._allocate([length for _, length, _ in used])
            for number, (start, length, unit) in enumerate(used):
                self.tables.append(self._build_table(number, start, length, unit - 1))
            self._join_spills([table.spill for table in self.tables])
        self._flat: dict[str, Any] | None = None

    def _allocate(self, lengths: list[int]) -> None:
        """One array per kind for all tables (the compiled kernel takes them flat; tables are views)."""
        self.slots_all: UInt64Array = np.empty(sum(1 << b for b in lengths), dtype=np.uint64)
        self.occupied_all: UInt8Array = np.empty(sum(-(-(1 << b) // 8) for b in lengths), dtype=np.uint8)
        self.offset_base = np.cumsum([0] + [1 << b for b in lengths[:-1]], dtype=np.int64)
        self.occupied_base = np.cumsum([0] + [-(-(1 << b) // 8) for b in lengths[:-1]], dtype=np.int64)
        self.spill_all: Int32Array = np.empty(0, dtype=np.int32)
        self.spill_base = np.zeros(len(lengths), dtype=np.int64)

    def _views(self, number: int, length: int) -> tuple[UInt64Array, UInt8Array]:
        begin, bitmap = int(self.offset_base[number]), int(self.occupied_base[number])
        return (
            self.slots_all[begin : begin + (1 << length)],
            self.occupied_all[bitmap : bitmap + -(-(1 << length) // 8)],
        )

    def _join_spills(self, spills: list[Int32Array]) -> None:
        """Every table's ``spill`` in one array (the kernel takes it flat, with where each table's begins)."""
        sizes = [len(spill) for spill in spills]
        self.spill_all = np.concatenate(spills) if spills else np.empty(0, dtype=np.int32)
        self.spill_base = np.cumsum([0, *sizes[:-1]], dtype=np.int64)[: len(spills)]
        for table, begin, size in zip(self.tables, self.spill_base.tolist(), sizes, strict=True):
            table.spill = self.spill_all[begin : begin + size]

    def _plan(self, radius: int) -> tuple[Int64Array, Int64Array]:
        """Per table: the bits its substring may differ in at ``radius`` (-1: not probed), and its probes."""
        flat = self.flat()
        if radius not in flat["plans"]:
            assert self.layout is not None
            units = dict(zip(self.layout.starts, _units(len(self.layout.lengths), radius), strict=True))
            thresholds = [units[t.start] - 1 for t in self.tables]
            probes = [_mask_count(t.length, u) for t, u in zip(self.tables, thresholds, strict=True)]
            flat["plans"][radius] = (np.array(thresholds, dtype=np.int64), np.array(probes, dtype=np.int64))
        plan: tuple[Int64Array, Int64Array] = flat["plans"][radius]
        return plan

    def flat(self) -> dict[str, Any]:
        """The tables' constants in the form the compiled kernel takes (built once per segment)."""
        if self._flat is None:
            starts = np.array([t.start for t in self.tables], dtype=np.int64)
            lengths = np.array([t.length for t in self.tables], dtype=np.int64)
            bitmasks = np.zeros((len(self.tables), HASH_BYTES), dtype=np.uint8)
            for number, table in enumerate(self.tables):
                bits = np.zeros(HASH_BITS, dtype=np.uint8)
                bits[table.start : table.start + table.length] = 1
                bitmasks[number] = np.packbits(bits)  # big-endian bits, like the codes
            self._flat = {
                "starts": starts,
                "lengths": lengths,
                "bitmasks": bitmasks.view(np.uint64),
                "plans": {},
                "arguments": {},  # radius -> the kernel's arguments after the queries
            }
        return self._flat

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        arrays: dict[str, npt.NDArray[Any]] = {
            f"{prefix}ids": self.ids,
            f"{prefix}codes": self.codes,
            f"{prefix}alive": self.alive,
            f"{prefix}layout": np.array(
                [] if self.layout is None else [self.layout.starts, self.layout.lengths, self.layout.units],
                dtype=np.int64,
            ),
        }
        for number, table in enumerate(self.tables):
            order, offsets = table.order_and_offsets(len(self.ids))
            arrays[f"{prefix}order{number}"], arrays[f"{prefix}offsets{number}"] = order, offsets
            arrays[f"{prefix}occupied{number}"] = table.occupied
        return arrays

    @classmethod
    def from_arrays(cls, data: Any, prefix: str, radius: int) -> _Segment:
        """The inverse of :meth:`to_arrays`, with the consistency checks a damaged file would fail."""
        segment = cls.__new__(cls)
        segment.ids = np.asarray(data[f"{prefix}ids"], dtype=np.int64)
        segment.codes = _line_aligned(_as_hashes(data[f"{prefix}codes"], "codes"))
        segment.words = segment.codes.view(np.uint64)
        segment.alive = np.asarray(data[f"{prefix}alive"], dtype=np.bool_)
        segment.radius = radius
        segment.tables = []
        segment._flat = None
        rows = len(segment.ids)
        if len(segment.codes) != rows or len(segment.alive) != rows or bool((np.diff(segment.ids) < 0).any()):
            raise ValueError(f"damaged PdqIndex checkpoint: {prefix} rows")
        raw = np.asarray(data[f"{prefix}layout"], dtype=np.int64)
        segment.layout = None
        if raw.size:
            starts, lengths, units = (tuple(int(v) for v in row) for row in raw)
            segment.layout = _Layout(starts, lengths, units)
            if segment.layout != _Layout.make(len(lengths), radius):
                raise ValueError(f"damaged PdqIndex checkpoint: {prefix} layout is not exact at radius {radius}")
            used = [(start, length, unit) for start, length, unit in zip(starts, lengths, units, strict=True) if unit]
            segment._allocate([length for _, length, _ in used])
            for number, (start, length, unit) in enumerate(used):
                order = np.asarray(data[f"{prefix}order{number}"], dtype=np.int32)
                offsets = np.asarray(data[f"{prefix}offsets{number}"], dtype=np.int32)
                occupied = np.asarray(data[f"{prefix}occupied{number}"], dtype=np.uint8)
                if len(order) != rows or len(offsets) != (1 << length) + 1 or int(offsets[-1]) != rows:
                    raise ValueError(f"damaged PdqIndex checkpoint: {prefix} table {number}")
                if len(occupied) != -(-(1 << length) // 8):
                    raise ValueError(f"damaged PdqIndex checkpoint: {prefix} table {number} bitmap")
                # the compiled kernel reads without bounds checks: every offset and row must be in range
                bad_order = bool(((order < 0) | (order >= rows)).any())
                if int(offsets[0]) != 0 or bool((np.diff(offsets) < 0).any()) or bad_order:
                    raise ValueError(f"damaged PdqIndex checkpoint: {prefix} table {number} offsets")
                # and the bitmap must say exactly which buckets hold rows: a search skips the unmarked ones (the
                # slots and spill are derived from offsets and order below, so they are in range by construction)
                if not np.array_equal(np.packbits(np.diff(offsets) > 0, bitorder="little"), occupied):
                    raise ValueError(f"damaged PdqIndex checkpoint: {prefix} table {number} bitmap")
                view_slots, view_occupied = segment._views(number, length)
                view_occupied[:] = occupied
                spill = _pack_slots(view_slots, offsets, order)
                del order, offsets, occupied
                segment.tables.append(_Table(start, length, view_slots, spill, view_occupied, _masks(length, unit - 1)))
            segment._join_spills([table.spill for table in segment.tables])
        return segment

    def __len__(self) -> int:
        return len(self.ids)

    def _build_table(self, number: int, start: int, length: int, threshold: int) -> _Table:
        slots, occupied = self._views(number, length)
        keys = _substring_keys(self.codes, start, length)
        packed = keys.astype(np.uint64) << np.uint64(32)
        packed |= np.arange(len(keys), dtype=np.uint64)
        packed.sort()
        order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int32)
        del packed
        counts = np.bincount(keys, minlength=1 << length)
        occupied[:] = np.packbits(counts > 0, bitorder="little")
        offsets = np.empty(len(counts) + 1, dtype=np.int64)
        offsets[0] = 0
        np.cumsum(counts, out=offsets[1:])
        del counts
        spill = _pack_slots(slots, offsets, order)
        return _Table(start, length, slots, spill, occupied, _masks(length, threshold))

    @property
    def nbytes(self) -> int:
        tables = sum(t.spill.nbytes + t.slots.nbytes + t.occupied.nbytes + t.masks.nbytes for t in self.tables)
        return self.ids.nbytes + self.codes.nbytes + self.alive.nbytes + tables

    def rows_of(self, ids: Int64Array) -> Int64Array:
        """Live rows whose id is in ``ids`` (sorted, unique)."""
        left = np.searchsorted(self.ids, ids, side="left")
        right = np.searchsorted(self.ids, ids, side="right")
        counts = right - left
        if not counts.any():
            return np.empty(0, dtype=np.int64)
        rows = np.repeat(left, counts) + _ragged_arange(counts)
        result: Int64Array = rows[self.alive[rows]]
        return result

    def search(
        self, queries: UInt8Array, qwords: UInt64Array, radius: int, kernel: Any = None
    ) -> tuple[Int64Array, Int64Array, Int64Array]:
        """(query index, id, distance) of every live row within ``radius`` of a query; unordered.

        ``kernel``: the compiled module (:mod:`hotline.lib.pdqkernel`) or ``None`` for numpy.
        """
        if kernel is not None:
            return self._search_compiled(queries, qwords, radius, kernel)
        if self.layout is None:
            qi, rows = self._brute(qwords, radius)
        else:
            qi, rows = self._probe(queries, qwords, radius)
        if len(rows) and not self.alive.all():
            keep = self.alive[rows]
            qi, rows = qi[keep], rows[keep]
        distances = _distance(self.words.take(rows, axis=0) ^ qwords.take(qi, axis=0))
        exact = distances <= radius  # the mod-256 screen lets through exact complements (distance 256)
        return qi[exact], self.ids[rows[exact]], distances[exact]

    def _search_compiled(
        self, queries: UInt8Array, qwords: UInt64Array, radius: int, kernel: Any
    ) -> tuple[Int64Array, Int64Array, Int64Array]:
        out, count = self._run_compiled(queries, qwords, radius, kernel)
        return out[0, :count].copy(), self.ids[out[1, :count]], out[2, :count].copy()

    def pairs_compiled(self, query: UInt8Array, radius: int, kernel: Any) -> list[tuple[int, int]]:
        """``(id, distance)`` of every live row within ``radius`` of one query ((1, 32) uint8), unordered:
        the kernel's pairs as Python numbers, without the arrays :meth:`search` returns (none when nothing
        is near, the common case)."""
        out, count = self._run_compiled(query, query.view(np.uint64), radius, kernel)
        if not count:
            return []
        return list(zip(self.ids[out[1, :count]].tolist(), out[2, :count].tolist(), strict=True))

    def _run_compiled(
        self, queries: UInt8Array, qwords: UInt64Array, radius: int, kernel: Any
    ) -> tuple[Int64Array, int]:
        """The kernel's (3, capacity) output buffer and how many pairs it holds."""
        if self.layout is None:
            arguments: tuple[Any, ...] = (qwords, self.words, self.alive, radius)
            search = kernel.brute_search
        else:
            flat = self._flat if self._flat is not None else self.flat()
            tables = flat["arguments"].get(radius)  # the same arrays every call (``alive`` changes in place)
            if tables is None:
                thresholds, probes = self._plan(radius)
                # each table's masks for this radius in increasing order, so that probes landing on one page (and
                # one cache line) of slots come one after the other (0.98 of the time at 10 M rows; a smaller radius
                # needs the masks of fewer bits, hence an array per radius)
                masks = [np.sort(t.masks[:p]) for t, p in zip(self.tables, probes.tolist(), strict=True)]
                mask_base = np.cumsum([0] + [len(m) for m in masks[:-1]], dtype=np.int64)
                tables = (
                    self.words, self.alive, flat["starts"], flat["lengths"], thresholds,
                    flat["bitmasks"], np.concatenate([*masks, np.zeros(kernel.AHEAD, np.int64)]), mask_base, probes,
                    self.slots_all.view(np.int64), self.offset_base, self.occupied_all, self.occupied_base,
                    self.spill_all, self.spill_base, radius,
                )  # fmt: skip
                flat["arguments"][radius] = tables
            arguments = (queries, qwords, *tables)
            search = kernel.mih_search
        out = _output_buffer(16 * len(qwords))  # room for 16 pairs a query: a second call is rare
        count = search(*arguments, out)
        if count > out.shape[1]:  # more pairs than the buffer holds: once more with room for all
            out = _output_buffer(count)
            count = search(*arguments, out)
        return out, count

    def _brute(self, qwords: UInt64Array, radius: int) -> tuple[Int64Array, Int64Array]:
        count = len(self.ids)
        step = max(1, BRUTE_BATCH // max(count, 1))
        found_q: list[Int64Array] = []
        found_r: list[Int64Array] = []
        for begin in range(0, len(qwords), step):
            block = qwords[begin : begin + step]
            xor = self.words[None, :, :] ^ block[:, None, :]
            near = np.flatnonzero(_distance_mod256(xor.reshape(-1, 4)) <= radius)
            found_q.append(near // count + begin)
            found_r.append(near % count)
        return _concat(found_q), _concat(found_r)

    def _probe(self, queries: UInt8Array, qwords: UInt64Array, radius: int) -> tuple[Int64Array, Int64Array]:
        assert self.layout is not None
        units = dict(zip(self.layout.starts, _units(len(self.layout.lengths), radius), strict=True))
        plan = [(table, _mask_count(table.length, units[table.start] - 1)) for table in self.tables]
        plan = [(table, probes) for table, probes in plan if probes > 0]
        per_query = sum(probes for _, probes in plan) or 1
        step = max(1, PROBE_BATCH // per_query)
        found_q: list[Int64Array] = []
        found_r: list[Int64Array] = []
        for begin in range(0, len(queries), step):
            block = queries[begin : begin + step]
            block_words = qwords[begin : begin + step]
            for table, probes in plan:
                masks = table.masks[:probes]
                keys = (_substring_keys(block, table.start, table.length)[:, None] ^ masks[None, :]).reshape(-1)
                bits = np.left_shift(np.uint8(1), (keys & 7).astype(np.uint8))
                # != 0 first: nonzero on a bool array is ~10x faster than on uint8 (branch-free, 2 M probes: 0.8 ms)
                hit = np.flatnonzero((np.take(table.occupied, keys >> 3) & bits) != 0)
                if not len(hit):
                    continue
                rows, qi = _bucket_rows(table, keys[hit], hit // probes)
                xor = self.words.take(rows, axis=0)
                xor ^= block_words.take(qi, axis=0)
                near = np.flatnonzero(_distance_mod256(xor) <= radius)
                found_q.append(qi[near].astype(np.int64) + begin)
                found_r.append(rows[near].astype(np.int64))
        qi_all, rows_all = _concat(found_q), _concat(found_r)
        if len(self.tables) > 1 and len(rows_all):  # a neighbour can turn up in several tables
            pairs = np.unique(qi_all * len(self.ids) + rows_all)
            qi_all, rows_all = pairs // len(self.ids), pairs % len(self.ids)
        return qi_all, rows_all


# A slot (uint64, one per bucket): how many rows the bucket holds in the top two bits (0, 1, 2, or 3 for three or
# more), then two 31-bit fields ``a`` and ``b``: one row: ``a`` is it; two rows: ``a`` and ``b``; three or more: they
# are ``spill[a : a + b]``. One load gives the rows of ~90 % of the non-empty buckets (docs/pdq-index.md, 7th round).
SLOT_COUNT_SHIFT = 62
SLOT_A_SHIFT = 31
SLOT_FIELD = (1 << 31) - 1
SLOT_MANY = 3


def _pack_slots(slots: UInt64Array, offsets: npt.NDArray[Any], order: Int32Array) -> Int32Array:
    """Fill a table's ``slots`` from its buckets (``order[offsets[k] : offsets[k + 1]]``, row numbers below 2**31);
    returns its ``spill``: the rows of the buckets of three or more, in ``order``'s order. Few arrays of ``2**b``
    (fresh memory is what such a pass costs here); the fields are filled for the buckets that use them."""
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = np.diff(offsets)
    many = counts >= SLOT_MANY
    spill: Int32Array = np.ascontiguousarray(order[np.repeat(many, counts)], dtype=np.int32)
    slots[:] = counts
    np.minimum(slots, np.uint64(SLOT_MANY), out=slots)
    slots <<= np.uint64(SLOT_COUNT_SHIFT)  # an empty bucket's slot is 0
    if not len(order):
        return spill
    some = np.flatnonzero((counts == 1) | (counts == 2))
    slots[some] |= order.take(offsets[some]).astype(np.uint64) << np.uint64(SLOT_A_SHIFT)
    two = np.flatnonzero(counts == 2)
    slots[two] |= order.take(offsets[two] + 1).astype(np.uint64)
    bigs = np.flatnonzero(many)
    sizes = counts[bigs]
    begins = np.cumsum(sizes) - sizes  # where each such bucket's rows begin in ``spill``
    slots[bigs] |= (begins.astype(np.uint64) << np.uint64(SLOT_A_SHIFT)) | sizes.astype(np.uint64)
    return spill


def _decode_slots(slots: UInt64Array) -> tuple[Int64Array, Int64Array, Int64Array]:
    """Each slot's count code (0, 1, 2, 3 = three or more) and its fields ``a`` and ``b``, as int64."""
    signed = slots.view(np.int64)
    code: Int64Array = (signed >> SLOT_COUNT_SHIFT) & 3
    a: Int64Array = (signed >> SLOT_A_SHIFT) & SLOT_FIELD
    b: Int64Array = signed & SLOT_FIELD
    return code, a, b


def _unpack_slots(slots: UInt64Array, spill: Int32Array, rows: int) -> tuple[Int32Array, Int32Array]:
    """The inverse of :func:`_pack_slots`: ``order`` (rows sorted by key) and the int32 bucket ``offsets``."""
    signed = slots.view(np.int64)
    code = (signed >> SLOT_COUNT_SHIFT) & 3
    counts = code.copy()
    bigs = np.flatnonzero(code == SLOT_MANY)
    counts[bigs] = signed[bigs] & SLOT_FIELD
    offsets = np.zeros(len(slots) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    order = np.empty(rows, dtype=np.int32)
    some = np.flatnonzero((code == 1) | (code == 2))
    order[offsets[some]] = (signed[some] >> SLOT_A_SHIFT) & SLOT_FIELD
    two = np.flatnonzero(code == 2)
    order[offsets[two] + 1] = signed[two] & SLOT_FIELD
    order[np.repeat(code == SLOT_MANY, counts)] = spill
    return order, offsets.astype(np.int32)


def _bucket_rows(table: _Table, keys: Int64Array, qi: Int64Array) -> tuple[Int64Array, Int64Array]:
    """The rows of buckets ``keys`` of ``table`` and, for each, the ``qi`` of its bucket (the numpy path)."""
    code, a, b = _decode_slots(table.slots.take(keys))
    two = code == 2
    direct = two | (code == 1)
    rows = [a[direct], b[two]]
    owners = [qi[direct], qi[two]]
    many = np.flatnonzero(code == SLOT_MANY)
    if len(many):
        counts = b[many]
        rows.append(table.spill.take(np.repeat(a[many], counts) + _ragged_arange(counts)))
        owners.append(np.repeat(qi[many], counts))
    return np.concatenate(rows), np.concatenate(owners)


def _ragged_arange(counts: npt.NDArray[Any]) -> Int64Array:
    """``concatenate([arange(c) for c in counts])`` without the loop."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    result: Int64Array = np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)
    return result


def _concat(parts: list[Int64Array]) -> Int64Array:
    if not parts:
        return np.empty(0, dtype=np.int64)
    result: Int64Array = np.concatenate(parts).astype(np.int64, copy=False)
    return result


# ---- the compiled kernel (optional) -------------------------------------------------------------

KERNELS = ("auto", "numba", "numpy")
_KERNEL_MODULE: list[Any] = []  # [module or None] once tried


def _compiled(name: str) -> Any:
    """:mod:`hotline.lib.pdqkernel` when ``name`` asks for it and numba imports; ``None``: numpy."""
    if name == "numpy":
        return None
    if not _KERNEL_MODULE:
        _KERNEL_MODULE.append(_load_kernel())
    module = _KERNEL_MODULE[0]
    if module is None and name == "numba":
        raise RuntimeError("PdqIndex kernel 'numba' asked for, but numba is not installed (pip install numba)")
    return module


def _load_kernel() -> Any:
    """Import and compile the kernel once (numba compiles on first call; ``cache=True`` keeps it on
    disk). Any failure (numba missing, no writable cache, an LLVM error) leaves the numpy path."""
    try:
        from hotline.lib import pdqkernel
    except ImportError:
        return None
    try:
        codes = np.zeros((4, HASH_BYTES), dtype=np.uint8)
        for layout in (None, _Layout.make(32, DEFAULT_RADIUS)):  # brute force and 8-bit tables: small
            segment = _Segment(np.arange(4, dtype=np.int64), codes, DEFAULT_RADIUS, layout)
            segment.search(codes[:1], codes[:1].view(np.uint64), DEFAULT_RADIUS, pdqkernel)
    except Exception:  # whatever numba raises, the numpy path gives the same answers
        logging.getLogger("hotline.pdqindex").warning("PDQ kernel unusable, using numpy", exc_info=True)
        return None
    return pdqkernel


_BUFFERS = threading.local()  # per thread: searches of one index may run in several threads at once


def _output_buffer(least: int) -> Int64Array:
    """This thread's (3, capacity) int64 buffer for the kernel's pairs, with room for ``least``."""
    buffer: Int64Array | None = getattr(_BUFFERS, "out", None)
    if buffer is None or buffer.shape[1] < least:
        buffer = np.empty((3, max(1024, 2 * least)), dtype=np.int64)
        _BUFFERS.out = buffer
    return buffer


def _by_distance(pair: tuple[int, int]) -> tuple[int, int]:
    return pair[1], pair[0]


def kernel_available() -> bool:
    """Whether the compiled kernel (numba) can be used in this process."""
    return _compiled("auto") is not None


# ---- the index ----------------------------------------------------------------------------------


class PdqIndex:
    """PDQ hashes under int64 ids; ``search`` returns every live id within the radius, exactly.

    ``add`` refuses an id that is already live (remove it first to replace its hash) and, when
    ``qualities`` are given, any hash below ``MIN_QUALITY``. ``remove`` of an unknown id is a no-op.
    """

    def __init__(self, radius: int = DEFAULT_RADIUS, kernel: str | None = None) -> None:
        if not 0 <= radius <= HASH_BITS:
            raise ValueError(f"radius must be 0..{HASH_BITS}, got {radius}")
        self.radius = radius
        self.kernel = kernel or os.environ.get("HOTLINE_PDQ_KERNEL", "auto")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {self.kernel!r}")
        self.version = 0
        self._count: int | None = 0
        self._main = self._segment(np.empty(0, np.int64), np.empty((0, HASH_BYTES), np.uint8))
        self._delta = self._main
        self._tail = self._main

    # -- building --

    def _segment(self, ids: Int64Array, codes: UInt8Array, indexed: bool = True) -> _Segment:
        layout = _choose_layout(len(ids), self.radius) if indexed else None
        return _Segment(ids, codes, self.radius, layout)

    @staticmethod
    def _live(*segments: _Segment) -> tuple[Int64Array, UInt8Array]:
        ids = [s.ids[s.alive] for s in segments]
        codes = [s.codes[s.alive] for s in segments]
        return np.concatenate(ids), np.concatenate(codes)

    def compact(self) -> None:
        """Rebuild everything live into one ``main`` tier, dropping removed rows (results do not change)."""
        ids, codes = self._live(self._main, self._delta, self._tail)
        self._main = self._segment(ids, codes)
        self._delta = self._tail = self._segment(ids[:0], codes[:0])
        self._count = None

    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike, qualities: npt.ArrayLike | None = None) -> None:
        """Add hashes (``(n, 32)`` uint8, see :func:`hex_to_bytes`) under ``ids``; searchable at once."""
        codes = _as_hashes(hashes, "hashes")
        id_array = np.asarray(ids).reshape(-1)
        if id_array.size and not np.issubdtype(id_array.dtype, np.integer):
            raise ValueError(f"ids must be integers, got {id_array.dtype}")
        id_array = id_array.astype(np.int64)
        if len(id_array) != len(codes):
            raise ValueError(f"{len(id_array)} ids for {len(codes)} hashes")
        _check_quality(qualities, len(codes), "add")
        unique = np.sort(id_array)
        if len(unique) > 1 and bool((unique[1:] == unique[:-1]).any()):
            raise ValueError("duplicate ids in one add()")
        clash = [s.ids[s.rows_of(unique)] for s in (self._main, self._delta, self._tail)]
        taken = np.concatenate(clash)
        if len(taken):
            raise ValueError(f"{len(taken)} id(s) already in the index, e.g. {int(taken[0])}; remove them first")
        if len(self._tail) + len(id_array) <= TAIL_MAX:
            tail_ids, tail_codes = self._live(self._tail)
            self._tail = self._segment(
                np.concatenate([tail_ids, id_array]), np.concatenate([tail_codes, codes]), indexed=False
            )
        else:
            old_ids, old_codes = self._live(self._delta, self._tail)
            new_ids, new_codes = np.concatenate([old_ids, id_array]), np.concatenate([old_codes, codes])
            empty = self._segment(new_ids[:0], new_codes[:0])
            if len(new_ids) * DELTA_FRACTION > int(self._main.alive.sum()):
                main_ids, main_codes = self._live(self._main)
                self._main = self._segment(np.concatenate([main_ids, new_ids]), np.concatenate([main_codes, new_codes]))
                self._delta = empty
            else:
                self._delta = self._segment(new_ids, new_codes)
            self._tail = empty
        self.version += 1
        self._count = None

    def remove(self, ids: Iterable[int]) -> None:
        """Disable ``ids``: no search returns them from now on. Unknown ids are ignored."""
        wanted = np.unique(np.fromiter((int(i) for i in ids), dtype=np.int64))
        for segment in (self._main, self._delta, self._tail):
            segment.alive[segment.rows_of(wanted)] = False
        self.version += 1
        self._count = None

    def __len__(self) -> int:
        if self._count is None:  # counted once per change: a look-up asks on every call
            self._count = sum(int(s.alive.sum()) for s in (self._main, self._delta, self._tail))
        return self._count

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, int | np.integer):
            return False
        wanted = np.array([int(item)], dtype=np.int64)
        return any(len(s.rows_of(wanted)) for s in (self._main, self._delta, self._tail))

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (codes, ids, flags, tables)."""
        segments = {id(s): s for s in (self._main, self._delta, self._tail)}
        return sum(s.nbytes for s in segments.values())

    @property
    def layout(self) -> str:
        """The main tier's layout, for logs and benchmarks."""
        layout = self._main.layout
        if layout is None:
            return "brute force"
        parts = [
            f"{length}b t={unit - 1}" for length, unit in zip(layout.lengths, layout.units, strict=True) if unit > 0
        ]
        probes = sum(layout.probes(self.radius))
        return f"{len(parts)} tables [{', '.join(parts)}], {probes} probes/query"

    # -- searching --

    def search(
        self, queries: npt.ArrayLike, radius: int | None = None, qualities: npt.ArrayLike | None = None
    ) -> list[list[tuple[int, int]]]:
        """Per query, every live ``(id, distance)`` with distance <= ``radius``, by distance then id."""
        codes = _as_hashes(queries, "queries")
        _check_quality(qualities, len(codes), "search")
        if radius is None:
            radius = self.radius
        if not 0 <= radius <= self.radius:
            raise ValueError(f"radius must be 0..{self.radius} (the index radius), got {radius}")
        words = codes.view(np.uint64)
        # 'auto' uses the kernel for the product's few hashes per call; on big batches the numpy path,
        # which walks one table at a time for thousands of queries, keeps each bitmap in cache and is faster
        kernel = _compiled(self.kernel) if self.kernel == "numba" or len(codes) <= KERNEL_MAX_BATCH else None
        if kernel is not None and len(codes) == 1:  # one hash: search_one's path, no arrays around the kernel
            return [self._pairs_one(codes, radius, kernel)]
        found = [s.search(codes, words, radius, kernel) for s in (self._main, self._delta, self._tail) if len(s)]
        if not found:
            return [[] for _ in range(len(codes))]
        if len(found) == 1:
            qi, ids, distances = found[0]
        else:
            qi = np.concatenate([f[0] for f in found])
            ids = np.concatenate([f[1] for f in found])
            distances = np.concatenate([f[2] for f in found])
        if len(codes) == 1:  # the common case in the product: a few Python objects beat lexsort
            return [[(i, d) for d, i in sorted(zip(distances.tolist(), ids.tolist(), strict=True))]]
        order = np.lexsort((ids, distances, qi))
        bounds = np.searchsorted(qi[order], np.arange(len(codes) + 1)).tolist()
        pairs = list(zip(ids[order].tolist(), distances[order].tolist(), strict=True))
        return [pairs[bounds[i] : bounds[i + 1]] for i in range(len(codes))]

    def search_one(self, query: bytes | bytearray, radius: int | None = None) -> list[tuple[int, int]]:
        """:meth:`search` for one hash given as its 32 bytes (``bytes.fromhex`` of the hex): the same
        ``(id, distance)`` pairs, by distance then id. The product looks up one hash at a time; this skips
        the batch's array work around the kernel (about 4 us of a 45 us call at 1 M rows)."""
        if len(query) != HASH_BYTES:
            raise ValueError(f"a PDQ hash is {HASH_BYTES} bytes, got {len(query)}")
        if radius is None:
            radius = self.radius
        elif not 0 <= radius <= self.radius:
            raise ValueError(f"radius must be 0..{self.radius} (the index radius), got {radius}")
        # writable (a bytearray): numba compiles a read-only array as another type
        code = np.frombuffer(bytearray(query), dtype=np.uint8).reshape(1, HASH_BYTES)
        kernel = _compiled(self.kernel)
        if kernel is None:
            return self.search(code, radius)[0]
        return self._pairs_one(code, radius, kernel)

    def _pairs_one(self, code: UInt8Array, radius: int, kernel: Any) -> list[tuple[int, int]]:
        """The pairs of one query ((1, 32) uint8) through the kernel, by distance then id."""
        pairs: list[tuple[int, int]] = []
        for segment in (self._main, self._delta, self._tail):
            if len(segment.ids):
                pairs += segment.pairs_compiled(code, radius, kernel)
        if len(pairs) > 1:
            pairs.sort(key=_by_distance)
        return pairs

    # -- checkpoints --

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint atomically (temporary file, then rename): every tier with its tables,
        removed rows, radius and ``version``. Loading it needs no rebuild."""
        arrays: dict[str, npt.NDArray[Any]] = {
            "format": np.array(_FORMAT, dtype=np.int64),
            "radius": np.array(self.radius, dtype=np.int64),
            "version": np.array(self.version, dtype=np.int64),
        }
        for name, segment in self._tiers():
            arrays.update(segment.to_arrays(f"{name}_"))
        target = Path(path)
        temporary = target.with_name(target.name + ".tmp")
        try:
            with open(temporary, "wb") as handle:
                np.savez(handle, **cast(dict[str, Any], arrays))
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str], kernel: str | None = None) -> PdqIndex:
        """Read a checkpoint written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as data:
            if "format" not in data or int(data["format"]) != _FORMAT:
                raise ValueError("not a PdqIndex checkpoint of a known format")
            index = cls(radius=int(data["radius"]), kernel=kernel)
            index._main, index._delta, index._tail = (
                _Segment.from_arrays(data, f"{name}_", index.radius) for name in ("main", "delta", "tail")
            )
            index.version = int(data["version"])
            index._count = None
        return index

    def _tiers(self) -> list[tuple[str, _Segment]]:
        return [("main", self._main), ("delta", self._delta), ("tail", self._tail)]
