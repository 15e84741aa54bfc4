"""Compiled search loops for :mod:`hotline.lib.pdqindex` (numba; optional).

Imported only through ``pdqindex._compiled()``: when numba is missing (it is an optional dependency,
``pip install hotline[fast]``) or ``HOTLINE_PDQ_KERNEL=numpy`` is set, the index runs its pure-numpy
path, which gives identical answers (``hotline/lib/tests/test_pdqindex.py`` checks both on the
same data, including distances exactly at the radius and one past it).

Why a loop: a single query through the numpy path costs about 1 ms, almost all of it the ~180 numpy
calls (a dozen per table) on arrays of a few hundred elements. The same work as one loop is a few
thousand bitmap tests and a few hundred 32-byte comparisons: tens of microseconds at 1 M rows.

``mih_search`` walks, per query and table, the probe keys (the query's substring XOR each mask of
at most ``t`` bits), skips empty buckets by the bitmap (on a sparse table; a dense one, of half a row per
bucket or more, drops them when it reads the slots), and checks every live candidate on all 256 bits.
A candidate found in table ``t`` is kept only if no earlier table would have found it (its substring
there differs in more bits than that table's threshold), so every pair comes out once without a set.
``brute_search`` scans every live row. Both release the GIL.
"""

from __future__ import annotations

from typing import Any

import numba  # type: ignore[import-not-found,import-untyped,unused-ignore]
import numpy as np
from llvmlite import ir  # type: ignore[import-not-found,import-untyped,unused-ignore]
from numba import types  # type: ignore[import-not-found,import-untyped,unused-ignore]
from numba.core import cgutils  # type: ignore[import-not-found,import-untyped,unused-ignore]
from numba.extending import intrinsic  # type: ignore[import-not-found,import-untyped,unused-ignore]

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
# How many iterations ahead a loop that waits for memory prefetches: 32 since the slots carry the rows (0.93 of the
# time of 16 at 1 M rows, 0.95 at 10 M; 24, 48 and 64 no better); 16 measured best before (docs/pdq-index.md,
# fifth and seventh rounds)
AHEAD = 32


@numba.njit(inline="always", cache=True)  # type: ignore[untyped-decorator,misc,unused-ignore]
def _popcount(x: Any) -> Any:
    # SWAR popcount; LLVM turns this idiom into one popcnt instruction where the CPU has it.
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


def _prefetch_intrinsic(typingctx: Any, array: Any, index: Any) -> Any:
    """``llvm.prefetch`` of ``array[index]`` (1-D) or of row ``index`` of a 2-D array: a hint that retires
    at once, so unlike a load it does not hold the reorder buffer while the line is fetched."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        made = context.make_array(array_type)(context, builder, args[0])
        indices = [args[1]] + [ir.Constant(ir.IntType(64), 0)] * (array_type.ndim - 1)
        pointer = cgutils.get_item_pointer(context, builder, array_type, made, indices)  # type: ignore[no-untyped-call,unused-ignore]
        byte = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call,unused-ignore]
            builder.module, ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        builder.call(function, [builder.bitcast(pointer, byte), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, types.int64), codegen


_prefetch: Any = intrinsic(_prefetch_intrinsic)


@numba.njit(cache=True, nogil=True)  # type: ignore[untyped-decorator,misc,unused-ignore]
def _grow(buffer: Any, count: int) -> Any:
    bigger = np.empty(max(16, 2 * len(buffer)), dtype=buffer.dtype)
    bigger[:count] = buffer[:count]
    return bigger


@numba.njit(cache=True, nogil=True)  # type: ignore[untyped-decorator,misc,unused-ignore]
def mih_search(
    queries: Any,  # (q, 32) uint8
    qwords: Any,  # (q, 4) uint64, the same bytes
    words: Any,  # (n, 4) uint64, the rows
    alive: Any,  # (n,) bool
    starts: Any,  # (m,) int64: first bit of each table's substring (MSB first)
    lengths: Any,  # (m,) int64: its bits
    thresholds: Any,  # (m,) int64: bits that may differ in that substring at this radius (-1: skip)
    bitmasks: Any,  # (m, 4) uint64: the substring's bits in the word layout of ``words``
    masks: Any,  # flat int64: every table's masks of at most ``thresholds[t]`` bits, in increasing order, then
    # ``AHEAD`` more (any value: prefetched past the end)
    mask_base: Any,  # (m,) int64: where each table's masks begin in ``masks``
    probes: Any,  # (m,) int64: masks used at this radius
    slots: Any,  # flat int64 (the uint64 slots): every table's slots, one a bucket (2**length each; see below)
    offset_base: Any,  # (m,) int64: where each table's slots begin
    occupied: Any,  # flat uint8: every table's bitmap of non-empty buckets (little bit order)
    occupied_base: Any,  # (m,) int64
    spill: Any,  # flat int32: every table's rows of buckets holding three or more, sorted by key
    spill_base: Any,  # (m,) int64: where each table's spill begins
    radius: int,
    out: Any,  # (3, capacity) int64: query index, row, distance of each pair found
) -> int:
    """(query index, row, distance) of every live row within ``radius`` of a query, once each, into
    ``out`` (the caller's buffer, so that no array is boxed on the way back: ~4 us a call); returns how
    many there are, which may exceed the buffer: the caller then calls again with a bigger one.

    Per query in passes, each a loop of independent loads (the memory system overlaps the cache
    misses of one pass; a single nested loop would wait for each in turn): non-empty buckets from the
    bitmaps; their slots, which give each bucket's bounds and its first row in one load; the other
    rows of the buckets that hold more than one; and the check of all those rows. A loop that waits
    for memory is kept as small as possible: the CPU overlaps the misses of only as many iterations
    as its reorder buffer holds (decoding the slots in the loop that loads them cost 1.085x instead
    of 0.93x the time of the int32 offsets at 1 M, ``docs/pdq-index.md``). Each such loop also prefetches
    the line it will read ``AHEAD`` iterations later (``llvm.prefetch``): a prefetch retires without waiting,
    so more misses are in flight than the reorder buffer alone allows (0.80x the time at 1 M and 10 M).
    """
    count = 0
    capacity = out.shape[1]
    tables = len(starts)
    total = 0
    for t in range(tables):
        total += probes[t]
    bucket = np.empty(total + AHEAD, dtype=np.int64)
    slot = np.empty(max(total, 1), dtype=np.int64)
    spill_from = np.empty(max(total, 1), dtype=np.int64)
    spill_rows = np.empty(max(total, 1), dtype=np.int64)
    rows = np.empty(max(1024, 2 * total + 2 + AHEAD), dtype=np.int64)
    ends = np.zeros(2 * tables, dtype=np.int64)  # where each table's candidates end in ``rows``: direct, then spill
    spill_ends = np.zeros(tables, dtype=np.int64)
    table_from = np.zeros(tables + 1, dtype=np.int64)  # where each table's buckets begin in ``bucket``
    rows_in = words.shape[0]
    field = (np.int64(1) << 31) - 1
    for qi in range(len(queries)):
        found = 0
        for t in range(tables):
            table_from[t] = found
            if thresholds[t] < 0:
                continue
            start, length = starts[t], lengths[t]
            first, last = start // 8, (start + length - 1) // 8
            key = np.int64(0)
            for column in range(first, last + 1):
                key = (key << 8) | np.int64(queries[qi, column])
            key = (key >> (8 * (last + 1) - (start + length))) & ((np.int64(1) << length) - 1)
            mb, bb = mask_base[t], occupied_base[t]
            base = offset_base[t]
            if 2 * rows_in >= (np.int64(1) << length):  # dense: at least half a row per bucket, so most
                # probes find a row and the bitmap test would spare few slot loads for a miss of its own (22 MiB
                # of bitmaps at 10 M rows): every probe goes to the slots, empty buckets drop out there
                for p in range(probes[t]):
                    bucket[found] = base + (key ^ masks[mb + p])
                    found += 1
                continue
            for p in range(probes[t]):  # branch-free: a mispredicted branch per bucket would cost more
                _prefetch(occupied, bb + ((key ^ masks[mb + p + AHEAD]) >> 3))  # (``masks`` is padded)
                k = key ^ masks[mb + p]
                bucket[found] = base + k
                found += (occupied[bb + (k >> 3)] >> (k & 7)) & 1
        table_from[tables] = found
        bucket[found : found + AHEAD] = 0  # what the loop below prefetches past its end (any valid slot)
        # One load per bucket gives its rows when it holds one or two (~90 % of the non-empty buckets at 10 M rows);
        # only buckets of three or more read ``spill``.
        for b in range(found):  # the misses: as small a loop as possible, so that many are in flight at once
            _prefetch(slots, bucket[b + AHEAD])
            slot[b] = slots[bucket[b]]
        filled = 0
        several = 0
        for t in range(tables):
            spill_at = spill_base[t]
            for b in range(table_from[t], table_from[t + 1]):  # branch-free: both fields stored, the count says
                s = slot[b]  # how many of them are rows
                code = (s >> 62) & 3
                a, second = (s >> 31) & field, s & field
                rows[filled], rows[filled + 1] = a, second
                filled += (0x0210 >> (code << 2)) & 3  # rows here: 0, 1, 2, and 0 for three or more (in ``spill``)
                spill_from[several], spill_rows[several] = spill_at + a, second
                several += code >> 1 & code  # code 3
            ends[t] = filled  # a candidate's table is needed only for a match: found from where each table's end
            spill_ends[t] = several
        candidates = filled
        for s in range(several):
            candidates += spill_rows[s]
        if candidates + AHEAD > len(rows):
            bigger = np.empty(2 * candidates + AHEAD, dtype=np.int64)
            bigger[:filled] = rows[:filled]
            rows = bigger
        # The rows of buckets of three or more: their first line as a flat loop of prefetches first, so that the
        # nested loop's exit branch, often mispredicted, finds them in cache.
        for s in range(several):
            _prefetch(spill, spill_from[s])
        c = filled
        for t in range(tables):
            for s in range(spill_ends[t - 1] if t else 0, spill_ends[t]):
                begin = spill_from[s]
                for j in range(begin, begin + spill_rows[s]):
                    rows[c] = spill[j]
                    c += 1
            ends[tables + t] = c
        q0, q1, q2, q3 = qwords[qi, 0], qwords[qi, 1], qwords[qi, 2], qwords[qi, 3]
        rows[candidates : candidates + AHEAD] = 0  # prefetched past the end (row 0: a valid address)
        for c in range(candidates):
            _prefetch(words, rows[c + AHEAD])
            row = rows[c]
            x0 = words[row, 0] ^ q0
            x1 = words[row, 1] ^ q1
            x2 = words[row, 2] ^ q2
            x3 = words[row, 3] ^ q3
            distance = _popcount(x0) + _popcount(x1) + _popcount(x2) + _popcount(x3)
            if distance > radius or not alive[row]:
                continue
            table = 0
            if c < filled:
                while ends[table] <= c:
                    table += 1
            else:
                while ends[tables + table] <= c:
                    table += 1
            seen = False
            for earlier in range(table):
                if thresholds[earlier] < 0:
                    continue
                part = (
                    _popcount(x0 & bitmasks[earlier, 0])
                    + _popcount(x1 & bitmasks[earlier, 1])
                    + _popcount(x2 & bitmasks[earlier, 2])
                    + _popcount(x3 & bitmasks[earlier, 3])
                )
                if part <= thresholds[earlier]:
                    seen = True  # that table found it already
                    break
            if seen:
                continue
            if count < capacity:
                out[0, count], out[1, count], out[2, count] = qi, row, distance
            count += 1
    return count


@numba.njit(cache=True, nogil=True)  # type: ignore[untyped-decorator,misc,unused-ignore]
def brute_search(qwords: Any, words: Any, alive: Any, radius: int, out: Any) -> int:
    """(query index, row, distance) of every live row within ``radius`` of a query, into ``out`` (as in
    :func:`mih_search`); returns how many there are."""
    count = 0
    capacity = out.shape[1]
    for qi in range(len(qwords)):
        q0, q1, q2, q3 = qwords[qi, 0], qwords[qi, 1], qwords[qi, 2], qwords[qi, 3]
        for row in range(len(words)):
            distance = (
                _popcount(words[row, 0] ^ q0)
                + _popcount(words[row, 1] ^ q1)
                + _popcount(words[row, 2] ^ q2)
                + _popcount(words[row, 3] ^ q3)
            )
            if distance <= radius and alive[row]:
                if count < capacity:
                    out[0, count], out[1, count], out[2, count] = qi, row, distance
                count += 1
    return count
