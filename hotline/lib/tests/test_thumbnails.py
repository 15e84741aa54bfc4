"""Tests for hotline.lib.thumbnails.safe_thumbnail (synthetic images generated here)."""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hotline.lib.thumbnails import PreviewError, safe_thumbnail


def pattern(size: tuple[int, int] = (400, 300), seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1] // 10, size[0] // 10, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB").resize(size, Image.Resampling.NEAREST)  # sharp-edged blocks


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (60, 40), colour) for colour in ((0, 0, 0), (255, 255, 255), (255, 0, 0))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def high_frequency(image: Image.Image) -> float:
    pixels = np.asarray(image.convert("L"), dtype=np.float64)
    return float(np.abs(np.diff(pixels, axis=0)).mean() + np.abs(np.diff(pixels, axis=1)).mean())


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("PNG", {}), ("JPEG", {"quality": 85}), ("GIF", {}), ("WEBP", {"quality": 80})],
)
def test_still_formats_give_small_blurred_greyscale_png(fmt: str, params: dict[str, object]) -> None:
    data = encode(pattern(), fmt, **params)
    thumb = open_png(safe_thumbnail(data))
    assert thumb.mode == "L" and thumb.size == (240, 180)
    sharp = open_png(safe_thumbnail(data, blur=False))
    assert sharp.mode == "RGB" and sharp.size == (240, 180)
    assert high_frequency(thumb) < 0.2 * high_frequency(sharp)


def test_animated_gif_gives_first_frame() -> None:
    thumb = open_png(safe_thumbnail(animated_gif(), blur=False))
    assert thumb.size == (60, 40)  # never enlarged
    assert np.asarray(thumb).max() < 10  # the black first frame, not the white or red ones


def test_animated_webp_gives_first_frame() -> None:
    frames = [Image.new("RGB", (50, 50), colour) for colour in ((255, 255, 255), (0, 0, 0))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    assert np.asarray(open_png(safe_thumbnail(data, blur=False))).min() > 245


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = encode(pattern((200, 100)), "JPEG", exif=exif.tobytes())
    assert open_png(safe_thumbnail(data)).size == (100, 200)


def test_transparency_is_flattened() -> None:
    data = encode(Image.new("RGBA", (30, 30), (255, 0, 0, 0)), "PNG")
    assert np.asarray(open_png(safe_thumbnail(data))).tolist()[0][0] == 128


def test_bomb_refused_by_pixel_limit() -> None:
    with pytest.raises(PreviewError) as info:
        safe_thumbnail(encode(pattern(), "PNG"), max_pixels=400 * 300 - 1)
    assert info.value.code == "too_large"


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (no pixel data worth mentioning)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("dimensions", [(9000, 9000), (100_000, 100_000)], ids=["over-ours", "over-pillow"])
def test_bomb_header_refused_before_decoding(dimensions: tuple[int, int]) -> None:
    with pytest.raises(PreviewError) as info:
        safe_thumbnail(_png_claiming(*dimensions))
    assert info.value.code == "too_large"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"definitely not an image",
        random.Random(3).randbytes(2048),
        encode(pattern(), "PNG")[:500],
        encode(pattern(), "JPEG")[:300],
        _png_claiming(64, 64),  # header fine, pixel data missing
    ],
    ids=["empty", "text", "random", "truncated-png", "truncated-jpeg", "short-idat"],
)
def test_garbage_is_bad_image(data: bytes) -> None:
    with pytest.raises(PreviewError) as info:
        safe_thumbnail(data)
    assert info.value.code == "bad_image"


def test_bad_arguments() -> None:
    with pytest.raises(PreviewError) as info:
        safe_thumbnail(encode(pattern(), "PNG"), size=(0, 10))
    assert info.value.code == "bad_argument"
