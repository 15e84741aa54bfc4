"""Deterministic, benign synthetic media for the simulated web and tests.

Everything here is an abstract pattern (gradients, geometric shapes, noise)
generated from a seed; nothing is ever loaded from outside the project.
Same ``(kind, seed, size)`` gives the same bytes for a given Pillow version.

Video: :func:`make_video_stub` returns a real, playable 3 s clip (H.264 in
MP4, or VP8 in WebM) encoded in memory by :func:`hotline.lib.video.make_test_video`
(bundled FFmpeg via PyAV); same seed, same bytes for a given PyAV build.
"""

from __future__ import annotations

import io
import random
import struct

from PIL import Image, ImageDraw, ImageOps

from hotline.lib.video import make_test_video

__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "KINDS",
    "make_garbage",
    "make_image",
    "make_truncated",
    "make_video_stub",
]

KINDS = ("png", "jpeg", "gif", "webp", "animated_gif")
CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "animated_gif": "image/gif",
    "mp4": "video/mp4",
}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp", "animated_gif": "gif"}

RGB = tuple[int, int, int]


def _colour(rng: random.Random) -> RGB:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _gradient(size: tuple[int, int], rng: random.Random) -> Image.Image:
    ramp = Image.linear_gradient("L")
    if rng.random() < 0.5:
        ramp = ramp.rotate(90)
    return ImageOps.colorize(ramp, _colour(rng), _colour(rng)).resize(size)


def _shapes(size: tuple[int, int], rng: random.Random) -> Image.Image:
    image = Image.new("RGB", size, _colour(rng))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(6):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(1, width // 2 + 2), y0 + rng.randrange(1, height // 2 + 2)
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
        else:
            draw.rectangle((x0, y0, x1, y1), fill=_colour(rng))
    return image


def _noise(size: tuple[int, int], rng: random.Random) -> Image.Image:
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


_PATTERNS = (_gradient, _shapes, _noise)


def _pattern(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = random.Random(seed)
    return _PATTERNS[seed % len(_PATTERNS)](size, rng)


def make_image(kind: str, seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """Encode a synthetic pattern. ``kind`` is one of :data:`KINDS`.

    The pattern is chosen by ``seed % 3``: gradient, shapes, noise.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown image kind {kind!r}; expected one of {KINDS}")
    if size[0] < 1 or size[1] < 1:
        raise ValueError("size must be positive")
    out = io.BytesIO()
    if kind == "animated_gif":
        frames = [
            _pattern(seed + i, size).convert("P", palette=Image.Palette.ADAPTIVE) for i in range(4)
        ]
        frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
        return out.getvalue()
    image = _pattern(seed, size)
    if kind == "png":
        image.save(out, "PNG")
    elif kind == "jpeg":
        image.save(out, "JPEG", quality=85)
    elif kind == "gif":
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(out, "GIF")
    else:
        image.save(out, "WEBP", quality=80, method=0)
    return out.getvalue()


def make_truncated(kind: str, seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A valid image cut in half: right signature, undecodable body."""
    data = make_image(kind, seed, size)
    return data[: len(data) // 2]


def make_garbage(seed: int, length: int = 512) -> bytes:
    """Random bytes (no image signature) to serve with an image content type."""
    return random.Random(seed).randbytes(length)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_video_stub(seed: int, container: str = "mp4") -> bytes:
    """A playable synthetic clip: 3 s, 10 fps, 160x120, H.264/MP4 (``container="mp4"``) or VP8/WebM (``"webm"``).

    Moving gradient, bouncing shapes and a seconds counter (see :func:`hotline.lib.video.make_test_video`).
    The name is historical: this used to be an unplayable ISO-BMFF stub.
    """
    return make_test_video(seed, container=container)
