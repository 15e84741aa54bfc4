"""PDQ perceptual hashes of image bytes (Pillow to decode, ``pdqhash`` for the hash itself).

Hex form and bit order
    ``pdqhash.compute`` returns a vector ``v`` of 256 zeros and ones and a quality 0-100. The
    reference C++ sets bit ``k = 16 i + j`` of its ``Hash256`` when DCT coefficient ``B[i, j]`` is
    above the median, and prints the hash as ``w[15] .. w[0]`` (``%04hx`` each), i.e. the 256-bit
    number most significant digit first. The binding builds ``v`` as bits 0..255 and then reverses
    it, so ``v[m]`` is bit ``255 - m``: the vector is already the number written MSB first, and the
    hex is ``numpy.packbits(v)`` (big-endian within each byte) as hex. The first hex digit holds
    bits 255..252 (coefficients ``B[15, 15]`` .. ``B[15, 12]``); the last digit holds bits 3..0
    (``B[0, 3]`` .. ``B[0, 0]``, the lowest frequencies). The tests check this against an independent
    numpy implementation (``hotline/lib/tests/pdq_reference.py``) written from the C++ source.

Full path (``fast=False``)
    Decode, convert to RGB, hand the whole raster to ``pdqhash.compute``: bit for bit the
    reference's ``pdqHash256FromFloatLuma`` on those pixels.

Fast path (``fast=True``, the default; images with both sides >= 512, smaller ones take the full path)
    Most of the reference's time goes into the Jarosz tent filter over every full-resolution pixel
    (four box passes, two of them down the columns, in float64 then float32 copies), although all it
    keeps is a 64x64 luminance grid. That blur-and-decimate is linear, so along each axis it is a
    64xN matrix: two clipped box passes of window ``ceil(N / 128)``, then the sample at
    ``int((k + 0.5) N / 64)``. We build that matrix (cached per size) and compute the grid as
    ``Mr @ Y @ Mc.T`` (BLAS, a strip of rows at a time so memory stays bounded; ``Mc`` is banded, so
    ``Y @ Mc.T`` runs per group of 4 output columns on only the pixel columns they read):

    * JPEG: ``Image.draft("L", (512, 512))`` makes libjpeg decode only the Y plane (JPEG luma uses
      PDQ's 0.299/0.587/0.114 weights), at the DCT scale 1/2, 1/4 or 1/8 that keeps both sides
      >= 512 (1024x768: 1/1; 4000x3000: 1/4). A decoded pixel then stands for the mean of its
      ``s x s`` block, so the matrix columns of each block are summed.
    * Other formats: full decode (there is no cheaper one), float32 luminance
      ``0.299 R + 0.587 G + 0.114 B`` as the reference computes it, no reduction: the same numbers
      as the reference up to float rounding.
    * ``pdqhash.compute`` then hashes the 64x64 grid through the reference's own 64x64 entry point
      (no filtering; quality, DCT, median and bits as usual). It only takes uint8 RGB, so each
      float luminance ``L`` is written as ``(b + r, b + g, b + c)`` with ``b = floor(L)`` and
      ``r, g, c`` in {0, 1} chosen so that ``0.299 r + 0.587 g + 0.114 c`` is nearest to the
      fraction: the luminance ``pdqhash`` sees is within 0.093 of ours instead of 0.5.

    Measured distance to the full path: 0-2 bits on quality-100 synthetic photos from 512x512 to
    4000x3000, at most 4 on the test suite's patterns (a fine checkerboard: many coefficients
    within 0.01 of the median), at most 6 on blocky noise; the rule is at most 10 bits for
    quality >= 80. Error grows for pixel-level white noise in JPEGs reduced 1/4 (up to 18 bits),
    whose PDQ quality is then below 75. See ``docs/pdq.md`` and ``bench/pdq_speed.py``.

Not done, on purpose
    * EXIF orientation is not applied: the hash is of the stored raster, as the reference tools
      (CImg, no EXIF) and the hash lists exchanged between hotlines compute it. A rotated or
      flipped copy hashes differently: ``dihedral_hashes`` gives the 8 hashes of the image under
      every rotation and flip (``DIHEDRAL``), for matching such copies.
    * Alpha is dropped (the colour under transparent pixels is hashed), as the reference does when it
      reads only the first three channels. Palette, greyscale and CMYK go through Pillow's
      conversion to RGB; 16-bit greyscale is scaled to 8 bits first (Pillow would clip it). A palette
      image is hashed by its colours (under a transparent index: that index's colour), as
      ``pdqhash`` on the RGB raster; python-threatexchange's hasher hashes the palette *indices*
      instead (``docs/pdq.md``, "Palette images").
      Animated images: the first frame only.

Limits
    The declared size is checked before any pixel is decoded: above ``max_megapixels`` (default 100)
    is ``ImageError("too_large")``; a side below 5 (the reference's minimum, it returns an all-zero
    hash) is ``ImageError("too_small")``. Pillow's own global limit still applies on top: it refuses
    images over ``2 * Image.MAX_IMAGE_PIXELS`` (179 MP by default; also reported as ``too_large``)
    and warns (``DecompressionBombWarning``) between 89.5 and 179 MP. Only the formats in
    ``DEFAULT_FORMATS`` are opened (no EPS, which Pillow hands to Ghostscript). Anything Pillow
    cannot decode (garbage, truncated data, unknown format) is ``ImageError("bad_image")``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pdqhash  # type: ignore[import-untyped]
from PIL import Image, JpegImagePlugin

__all__ = [
    "DEFAULT_FORMATS",
    "DEFAULT_MAX_MEGAPIXELS",
    "DIHEDRAL",
    "ImageError",
    "PdqHash",
    "dihedral_hashes",
    "hash_image_bytes",
    "hash_opened_image",
    "hash_rgb",
    "hash_rgb_dihedral",
]

DEFAULT_MAX_MEGAPIXELS = 100.0
DEFAULT_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "ICO", "AVIF")
MIN_DIMENSION = 5  # the reference hashes nothing smaller (all-zero hash, quality 0)
FAST_MIN_SIDE = 512  # fast path from this size up; it reduces no further than this on the smaller side
HASH_BITS = 256
HEX_DIGITS = HASH_BITS // 4
_HEX = frozenset("0123456789abcdef")

Float32Array = npt.NDArray[np.float32]
UInt8Array = npt.NDArray[np.uint8]
_Hashed = TypeVar("_Hashed", "PdqHash", "list[PdqHash]")


class ImageError(Exception):
    """The bytes cannot be hashed. ``code``: ``bad_image``, ``too_large`` or ``too_small``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PdqHash:
    """A PDQ hash: 64 lowercase hex digits (MSB first, as the reference prints it) and its quality."""

    hex: str
    quality: int

    def __post_init__(self) -> None:
        if len(self.hex) != HEX_DIGITS or not set(self.hex) <= _HEX:
            raise ValueError(f"a PDQ hash is {HEX_DIGITS} lowercase hex digits, got {self.hex!r}")
        if not 0 <= self.quality <= 100:
            raise ValueError(f"PDQ quality is 0-100, got {self.quality}")

    def distance(self, other: PdqHash) -> int:
        """Hamming distance: the number of the 256 bits that differ."""
        return (int(self.hex, 16) ^ int(other.hex, 16)).bit_count()

    @classmethod
    def from_bits(cls, bits: npt.ArrayLike, quality: int) -> PdqHash:
        """From a ``pdqhash`` bit vector (element 0 is the most significant bit, bit 255)."""
        vector = np.asarray(bits).astype(np.uint8).reshape(-1)
        if vector.size != HASH_BITS or vector.max(initial=0) > 1:
            raise ValueError(f"expected {HASH_BITS} bits of 0/1")
        return cls(np.packbits(vector).tobytes().hex(), int(quality))

    def bits(self) -> UInt8Array:
        """The inverse of :meth:`from_bits`."""
        return np.unpackbits(np.frombuffer(bytes.fromhex(self.hex), dtype=np.uint8))


def hash_rgb(pixels: UInt8Array) -> PdqHash:
    """Hash an HxWx3 uint8 RGB array with ``pdqhash.compute`` (exactly the reference)."""
    vector, quality = pdqhash.compute(np.ascontiguousarray(pixels, dtype=np.uint8))
    return PdqHash.from_bits(vector, quality)


#: The transforms of ``dihedral_hashes``, in ``pdqhash.compute_dihedral``'s order: hash ``k`` is the
#: hash of the image after transform ``k`` (rotations counter-clockwise, as ``numpy.rot90``).
DIHEDRAL: tuple[str, ...] = ("original", "rotate_90", "rotate_180", "rotate_270", "flip_vertical",
                             "flip_horizontal", "transpose", "transverse")


def hash_rgb_dihedral(pixels: UInt8Array) -> list[PdqHash]:
    """The 8 hashes of an HxWx3 uint8 RGB array under ``DIHEDRAL`` (``pdqhash.compute_dihedral``)."""
    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(pixels, dtype=np.uint8))
    return [PdqHash.from_bits(vector, quality) for vector in vectors]


def hash_image_bytes(
    data: bytes,
    *,
    fast: bool = True,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    formats: Sequence[str] | None = DEFAULT_FORMATS,
) -> PdqHash:
    """Decode ``data`` (first frame) and PDQ-hash it; see the module docstring for the fast path."""
    return _hash_bytes(data, hash_rgb, fast=fast, max_megapixels=max_megapixels, formats=formats)


def dihedral_hashes(
    data: bytes,
    *,
    fast: bool = True,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    formats: Sequence[str] | None = DEFAULT_FORMATS,
) -> list[PdqHash]:
    """The 8 PDQ hashes of ``data`` rotated and flipped, in ``DIHEDRAL`` order; the first is
    ``hash_image_bytes(data)``. A copy of an image turned by transform ``k`` has a hash near
    ``dihedral_hashes(original)[k]``, and a list entry of the original is near
    ``dihedral_hashes(copy)[j]`` for the inverse transform ``j``: look up all 8 to match turned
    copies. Exact (0 bits) on the full path when both sides are multiples of 64 with an odd tent
    window (``ceil(side / 128)``, e.g. 320x320); otherwise the reference's filter is not quite
    symmetric and a turn costs some bits (measured on test patterns: up to 16 at 320x240, 14 at
    1024x768, 4 at 640x640 on the fast path; the usual match radius is 31)."""
    return _hash_bytes(data, hash_rgb_dihedral, fast=fast, max_megapixels=max_megapixels, formats=formats)


def hash_opened_image(image: Image.Image, data: bytes, *, fast: bool = True,
                      max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> PdqHash:
    """``hash_image_bytes(data)`` for ``image``, which the caller opened from ``data`` (of one of
    ``DEFAULT_FORMATS``, nothing read from it but its header: not seeked, not drafted) and closes: the same hash
    and the same errors. Its pixels are decoded here, so the caller can read what comes after them (a PNG's text
    chunks) without decoding the image a second time."""
    return _hash_opened(image, data, hash_rgb, fast=fast, max_megapixels=max_megapixels)


def _hash_bytes(
    data: bytes,
    hasher: Callable[[UInt8Array], _Hashed],
    *,
    fast: bool,
    max_megapixels: float,
    formats: Sequence[str] | None,
) -> _Hashed:
    try:
        image = Image.open(io.BytesIO(data), formats=list(formats) if formats is not None else None)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("too_large", str(exc)) from exc
    except Exception as exc:  # Pillow's plugins raise many exception types for bad input
        raise ImageError("bad_image", f"cannot identify image: {exc}") from exc
    with image:
        return _hash_opened(image, data, hasher, fast=fast, max_megapixels=max_megapixels)


def _hash_opened(
    image: Image.Image, data: bytes, hasher: Callable[[UInt8Array], _Hashed], *, fast: bool, max_megapixels: float
) -> _Hashed:
    width, height = image.size
    if width * height > max_megapixels * 1_000_000:
        raise ImageError("too_large", f"{width}x{height} is above the limit of {max_megapixels:g} megapixels")
    if width < MIN_DIMENSION or height < MIN_DIMENSION:
        raise ImageError("too_small", f"{width}x{height}: PDQ needs at least {MIN_DIMENSION} pixels a side")
    try:
        if fast and min(width, height) >= FAST_MIN_SIDE:
            grid = _reduced_grid(image)
            if grid is not None:
                return hasher(grid)
            with Image.open(io.BytesIO(data)) as again:  # the draft did not scale as expected
                return hasher(np.asarray(_to_rgb(again)))
        return hasher(np.asarray(_to_rgb(image)))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("too_large", str(exc)) from exc
    except MemoryError as exc:
        raise ImageError("too_large", "out of memory decoding the image") from exc
    except Exception as exc:  # truncated or corrupt data surfaces only when pixels are decoded
        raise ImageError("bad_image", f"cannot decode {image.format or 'image'}: {exc}") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        image.load()
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow clips 16-bit values when converting to 8 bits; scale to keep the picture.
        image = image.point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGB")


def _reduced_grid(image: Image.Image) -> UInt8Array | None:
    """The 64x64 luminance grid of the fast path, written as RGB for ``pdqhash`` (None: full path)."""
    width, height = image.size
    factor = 1
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        # Y plane only (for YCbCr files), at the DCT scale 1/2, 1/4 or 1/8 that keeps both sides >= 512.
        image.draft("L", (FAST_MIN_SIDE, FAST_MIN_SIDE))
        factor = -(-width // image.size[0])
        if image.size != (-(-width // factor), -(-height // factor)):  # not a plain DCT scaling
            return None
    if image.mode == "L":
        image.load()
        pixels = np.asarray(image)
    else:
        pixels = np.asarray(_to_rgb(image))
    rows, cols = _reduced_operator(height, factor), _reduced_operator(width, factor)
    grid = _luma_grid(pixels, rows, cols, _operator_groups(width, factor))
    return _rgb_with_luma(grid)


_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # the reference's luma_from_*_coeff
_STRIP_ROWS = 256


def _luma_grid(
    pixels: UInt8Array, rows: Float32Array, cols: Float32Array, groups: list[tuple[int, int, int, int]] | None = None
) -> Float32Array:
    """``rows @ Y @ cols.T`` for the float32 luminance ``Y`` of ``pixels`` (HxW grey or HxWx3 RGB),
    a strip of rows at a time so that no full-size float copy of a large image is ever made.

    ``cols`` is banded (each output column reads ~2 box windows of pixels), so the big product runs per
    group of ``_GROUP`` output columns on just the pixel columns that group reads: the same sums,
    about a seventh of the multiply-adds of the dense product at 1024 pixels wide.
    """
    if not BANDED:
        groups = [(0, cols.shape[0], 0, cols.shape[1])]
    elif groups is None:
        groups = _column_groups(cols)
    partial = np.empty((pixels.shape[0], 64), dtype=np.float32)
    for top in range(0, pixels.shape[0], _STRIP_ROWS):
        strip = pixels[top : top + _STRIP_ROWS]
        luma = strip.astype(np.float32) if strip.ndim == 2 else strip.astype(np.float32) @ _LUMA_WEIGHTS
        for first, last, begin, end in groups:
            partial[top : top + _STRIP_ROWS, first:last] = luma[:, begin:end] @ cols[first:last, begin:end].T
    return rows @ partial


_GROUP = 4  # output columns per banded product
BANDED = True  # False: one dense product (the fast path before; bench/pdq_speed.py times both)


@lru_cache(maxsize=64)
def _operator_groups(size: int, factor: int) -> list[tuple[int, int, int, int]]:
    return _column_groups(_reduced_operator(size, factor))


def _column_groups(cols: Float32Array) -> list[tuple[int, int, int, int]]:
    """(first, last output, begin, end pixel column) per group: the pixel columns with a non-zero weight."""
    nonzero = cols != 0
    out = []
    for first in range(0, cols.shape[0], _GROUP):
        last = min(first + _GROUP, cols.shape[0])
        used = np.flatnonzero(nonzero[first:last].any(axis=0))
        begin, end = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 0)
        out.append((first, last, begin, end))
    return out


# ---- the reference's blur-and-decimate as a matrix ---------------------------------------------


def _box_rows(vectors: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """``vectors @ B`` where ``B`` is the reference's clipped box filter (``box1DFloat``) as a matrix.

    Output ``i`` of the box averages inputs ``i - (window - half) .. i + half - 1`` that exist,
    ``half = (window + 2) // 2``. Row ``r @ B`` therefore spreads ``r[i] / count_i`` over that range.
    """
    n = vectors.shape[1]
    half = (window + 2) // 2
    before, after = window - half, half - 1
    index = np.arange(n)
    count = np.minimum(index + after, n - 1) + 1 - np.maximum(index - before, 0)
    cumulative = np.zeros((vectors.shape[0], n + 1))
    np.cumsum(vectors / count, axis=1, out=cumulative[:, 1:])
    lo = np.maximum(index - after, 0)
    hi = np.minimum(index + before, n - 1) + 1
    return cumulative[:, hi] - cumulative[:, lo]


@lru_cache(maxsize=64)
def _reduced_operator(size: int, factor: int) -> Float32Array:
    """64 x ceil(size / factor): the reference's 64-sample blur along one axis of ``size`` pixels,
    applied to an image whose pixel ``j`` is the mean of original pixels ``j*factor .. j*factor+factor-1``.
    """
    window = (size + 2 * 64 - 1) // (2 * 64)
    samples = ((np.arange(64) + 0.5) * size / 64).astype(np.int64)
    rows = np.zeros((64, size))
    rows[np.arange(64), samples] = 1.0
    for _ in range(2):  # PDQ_NUM_JAROSZ_XY_PASSES; the same window on each pass of an axis
        rows = _box_rows(rows, window)
    folded = np.add.reduceat(rows, np.arange(0, size, factor), axis=1).astype(np.float32)
    folded.setflags(write=False)
    return folded


# The eight (r, g, b) in {0, 1}^3, by the luminance they add; used to write a float luminance as RGB.
_STEPS = np.array([(r, g, b) for r in (0, 1) for g in (0, 1) for b in (0, 1)], dtype=np.uint8)
_STEP_LUMA = _STEPS.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
_STEPS = _STEPS[np.argsort(_STEP_LUMA)]
_STEP_LUMA = np.sort(_STEP_LUMA)
_STEP_MIDPOINTS = (_STEP_LUMA[1:] + _STEP_LUMA[:-1]) / 2


def _rgb_with_luma(luma: npt.NDArray[np.floating]) -> UInt8Array:
    """uint8 RGB whose ``0.299 R + 0.587 G + 0.114 B`` is within 0.093 of ``luma`` (clipped to 0-255)."""
    clipped = np.clip(luma.astype(np.float64), 0.0, 255.0)
    base = np.minimum(np.floor(clipped), 254.0)
    step = np.searchsorted(_STEP_MIDPOINTS, clipped - base)
    rgb = base.astype(np.uint8)[..., None] + _STEPS[step]
    return np.ascontiguousarray(rgb, dtype=np.uint8)
