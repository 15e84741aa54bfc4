"""An independent PDQ implementation in plain numpy, used only to check ``hotline.lib.pdq``.

Written from the algorithm as the reference C++ (facebook/ThreatExchange ``pdq/cpp``) describes it,
without calling ``pdqhash``:

1. Luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` (the reference's ``luma_from_*_coeff``), in float32.
2. Jarosz tent filter: two repetitions of a box filter along rows then along columns. The window
   along rows is ``(cols + 2*64 - 1) // (2*64)`` and along columns ``(rows + 127) // 128``
   (``computeJaroszFilterWindowSize(old, 64)``), i.e. half a 64th of the side per pass. The box of
   window ``w`` averages ``in[i - (w - h) .. i + h - 1]`` with ``h = (w + 2) // 2``, clipped at the
   edges (the average is over the pixels actually inside the image).
3. Decimate to 64x64 by sampling the pixel at ``int((k + 0.5) * side / 64)``; a 64x64 input is
   taken as is.
4. Quality: sum over vertical and horizontal neighbour pairs of ``int((u - v) * 100 / 255)``
   (truncated towards zero, absolute value), divided by 90 (integer), capped at 100.
5. DCT: ``D[i, j] = sqrt(2/64) * cos(pi / 128 * (i + 1) * (2j + 1))`` for ``i < 16, j < 64``;
   ``B = D A D^T`` (16x16; the DC row/column is left out).
6. Median: the lower median of the 256 coefficients (Torben's method for an even count returns the
   128th smallest); bit ``16 i + j`` is set when ``B[i, j] > median``.
7. Hex: the 256-bit number with bit ``k`` = bit ``16 i + j``, printed most significant digit first
   (``Hash256::format`` prints ``w[15]`` .. ``w[0]`` as ``%04hx``, and bit ``k`` lives in
   ``w[k >> 4]`` at position ``k & 15``). So the first hex digit holds bits 255..252, i.e. the
   coefficients ``B[15, 15]``, ``B[15, 14]``, ``B[15, 13]``, ``B[15, 12]``.

The arithmetic differs from the C++ on purpose where it is convenient (float64 cumulative sums for
the box filter instead of a float32 running sum; a matrix product for the DCT), so the two can
disagree on a coefficient that sits within rounding error of the median. The tests measure this.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float = npt.NDArray[np.float64]
MIN_HASHABLE_DIM = 5


def luma(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    r, g, b = (rgb[:, :, c].astype(np.float32) for c in range(3))
    y: npt.NDArray[np.float32] = np.float32(0.299) * r + np.float32(0.587) * g + np.float32(0.114) * b
    return y


def window_size(old: int, new: int = 64) -> int:
    return (old + 2 * new - 1) // (2 * new)


def box_1d(values: Float, window: int, axis: int) -> Float:
    """Clipped moving average along ``axis`` with the reference's (asymmetric for even) window."""
    n = values.shape[axis]
    half = (window + 2) // 2
    before, after = window - half, half - 1
    moved = np.moveaxis(values, axis, -1)
    cumsum = np.concatenate([np.zeros((*moved.shape[:-1], 1)), np.cumsum(moved, axis=-1)], axis=-1)
    index = np.arange(n)
    lo = np.maximum(index - before, 0)
    hi = np.minimum(index + after, n - 1) + 1
    out = (cumsum[..., hi] - cumsum[..., lo]) / (hi - lo)
    return np.moveaxis(out, -1, axis)


def downsample_64(y: Float) -> Float:
    rows, cols = y.shape
    if rows == 64 and cols == 64:
        return y
    along_rows, along_cols = window_size(cols), window_size(rows)
    for _ in range(2):
        y = box_1d(y, along_rows, axis=1)
        y = box_1d(y, along_cols, axis=0)
    ri = ((np.arange(64) + 0.5) * rows / 64).astype(int)
    ci = ((np.arange(64) + 0.5) * cols / 64).astype(int)
    return y[np.ix_(ri, ci)]


def quality(a64: Float) -> int:
    a = a64.astype(np.float32)
    vertical = np.trunc((a[:-1, :] - a[1:, :]) * np.float32(100) / np.float32(255))
    horizontal = np.trunc((a[:, :-1] - a[:, 1:]) * np.float32(100) / np.float32(255))
    gradient_sum = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(gradient_sum // 90, 100)


def dct_matrix() -> Float:
    i = np.arange(1, 17)[:, None]
    j = np.arange(64)[None, :]
    matrix: Float = np.sqrt(2.0 / 64) * np.cos(np.pi / 2.0 / 64 * i * (2 * j + 1))
    return matrix


def coefficients(rgb: npt.NDArray[np.uint8]) -> tuple[Float, int]:
    """The 16x16 DCT block (``B[i, j]``) and the quality of an HxWx3 uint8 image."""
    a64 = downsample_64(luma(rgb).astype(np.float64))
    d = dct_matrix()
    block: Float = d @ a64 @ d.T
    return block, quality(a64)


def bits_to_hex(bits: npt.NDArray[np.bool_]) -> str:
    """``bits`` is the 16x16 block of set/unset bits, bit ``16 i + j`` at ``[i, j]``."""
    value = 0
    for k, bit in enumerate(bits.reshape(256)):
        if bit:
            value |= 1 << k
    return f"{value:064x}"


def pdq_hex(rgb: npt.NDArray[np.uint8]) -> tuple[str, int, float]:
    """Hex hash, quality, and the smallest gap between a coefficient and the median (a margin)."""
    rows, cols = rgb.shape[:2]
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        return "0" * 64, 0, 0.0
    block, q = coefficients(rgb)
    median = np.sort(block.reshape(256))[127]
    others = block[block != median]
    margin = float(np.min(np.abs(others - median))) if others.size else 0.0
    return bits_to_hex(block > median), q, margin
