"""Video handling for captured media: synthetic test clips, safe frame sampling, vPDQ-style hashes, contact sheets.

Everything works on ``bytes`` in memory (PyAV over :class:`io.BytesIO`); nothing is written to disk.  Captured
videos are hostile input, so :func:`sample_frames` / :func:`vpdq_hashes`

* only accept a fixed list of ordinary container formats (no playlists, ``concat`` lists or image pipes, so a
  "video" can never make the demuxer open a URL or a local file),
* refuse streams whose frames exceed ``max_pixels`` before decoding a single frame, and again per decoded frame
  (resolution changes mid-stream),
* refuse videos longer than ``max_duration_s`` (declared duration up front, decoded timestamps while decoding),
* keep at most ``max_frames`` samples, and
* turn every failure into :class:`VideoError` with a short machine-readable ``code``.

They do not bound wall-clock time: run them under the worker's job timeout.

This module has no Django imports.
"""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from hotline.lib.pdq import hash_rgb

if TYPE_CHECKING:
    import av
    import av.container
    import av.video.stream


@functools.cache
def _av() -> Any:
    """PyAV, imported on the first video (half a second of every process's start-up otherwise)."""
    import av
    import av.container

    return av

__all__ = [
    "ALLOWED_FORMATS",
    "Frame",
    "FrameHash",
    "VideoError",
    "contact_sheet",
    "encode_video",
    "make_test_video",
    "sample_frames",
    "vpdq_hashes",
]

#: libavformat demuxers :func:`sample_frames` may use (``format_whitelist``).  Deliberately excludes playlist and
#: indirection formats (hls, dash, concat, ...) and image demuxers.
ALLOWED_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg,asf"

_DEFAULT_CODECS = {"mp4": "libx264", "webm": "libvpx"}
_DEFAULT_MAX_PIXELS = 4096 * 4096
_DEFAULT_MAX_DURATION_S = 4 * 3600.0
#: Hard ceiling on decoded (not sampled) frames: 4 h at 240 fps.  Stops a stream of millions of tiny frames.
_MAX_DECODED_FRAMES = 4 * 3600 * 240


class VideoError(Exception):
    """A video could not be processed.

    ``code`` is one of ``bad_video`` (not a video we accept, undecodable, truncated, no video stream),
    ``too_large`` (frame pixels over the limit, or too many decoded frames), ``too_long`` (duration over the limit),
    ``no_frames`` (nothing decodable / nothing to draw) or ``bad_argument``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Frame:
    """A sampled frame: ``index`` is the frame's position in the decoded stream (0-based, like vPDQ's
    ``frame_number``), ``timestamp`` seconds from the first frame, ``image`` an RGB picture."""

    index: int
    timestamp: float
    image: Image.Image


@dataclass(frozen=True)
class FrameHash:
    """One vPDQ feature: PDQ ``hex`` (64 hex digits, as :class:`hotline.lib.pdq.PdqHash`) and ``quality`` (0-100)."""

    index: int
    timestamp: float
    hex: str
    quality: int


# ------------------------------------------------------------------------------------------------ synthetic video


def encode_video(
    frames: Iterable[Image.Image],
    *,
    fps: int,
    container: str = "mp4",
    codec: str | None = None,
    bit_rate: int | None = None,
) -> bytes:
    """Encode pictures (all the same even size) into a video in memory; yuv420p, single-threaded, bit-exact.

    ``codec`` defaults to libx264 for mp4 and libvpx (VP8) for webm.  ``bit_rate`` (bits/s) switches libx264
    from its default constant-quality mode to a target bitrate.
    """
    if container not in _DEFAULT_CODECS:
        raise VideoError("bad_argument", f"container must be one of {sorted(_DEFAULT_CODECS)}")
    if not 1 <= fps <= 240:
        raise VideoError("bad_argument", "fps must be between 1 and 240")
    codec_name = codec or _DEFAULT_CODECS[container]
    options: dict[str, str] = {}
    if codec_name == "libx264":
        # asm=0: x264's SIMD paths made the bytes differ between runs in one process (most often across threads),
        # which breaks "same seed, same bytes".  The plain C paths are deterministic and fast enough at this size.
        options = {"preset": "veryfast", "x264-params": "asm=0"}
        if bit_rate is None:
            options["crf"] = "23"
    elif codec_name.startswith("libvpx"):
        options = {"deadline": "good", "cpu-used": "4"}
    buf = io.BytesIO()
    count = 0
    with _av().open(buf, "w", format=container, container_options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(codec_name, rate=fps, options=options)
        if not isinstance(stream, _av().video.stream.VideoStream):
            raise VideoError("bad_argument", f"{codec_name} is not a video codec")
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        stream.codec_context.flags |= _av().codec.context.Flags.bitexact
        if bit_rate is not None:
            stream.codec_context.bit_rate = bit_rate
        for count, image in enumerate(frames, start=1):
            if count == 1:
                if image.width % 2 or image.height % 2 or image.width < 16 or image.height < 16:
                    raise VideoError("bad_argument", "frame size must be even and at least 16x16")
                stream.width, stream.height = image.size
            elif image.size != (stream.width, stream.height):
                raise VideoError("bad_argument", "all frames must have the same size")
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
            frame = _av().VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
            frame.pts = count - 1
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        if count == 0:
            raise VideoError("bad_argument", "no frames to encode")
        out.mux(stream.encode(None))
    return buf.getvalue()


# Seven-segment layout: segment -> (x0, y0, x1, y1) in a 4x7 cell; digit -> lit segments.
_SEGMENTS = {
    "a": (0, 0, 4, 1), "b": (3, 0, 4, 4), "c": (3, 3, 4, 7), "d": (0, 6, 4, 7),
    "e": (0, 3, 1, 7), "f": (0, 0, 1, 4), "g": (0, 3, 4, 4),
}  # fmt: skip
_DIGITS = ("abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abfgcd")

RGB = tuple[int, int, int]


class _Shape(NamedTuple):
    ellipse: bool
    w: int
    h: int
    x: float
    y: float
    vx: float
    vy: float
    colour: RGB


def _colour(rng: random.Random) -> RGB:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _draw_counter(draw: ImageDraw.ImageDraw, value: int, origin: tuple[int, int], unit: int, fill: RGB) -> None:
    x, y = origin
    for char in f"{value:02d}":
        for segment in _DIGITS[int(char)]:
            x0, y0, x1, y1 = _SEGMENTS[segment]
            draw.rectangle((x + x0 * unit, y + y0 * unit, x + x1 * unit - 1, y + y1 * unit - 1), fill=fill)
        x += 6 * unit


def _synthetic_frames(seed: int, count: int, fps: int, size: tuple[int, int]) -> Iterator[Image.Image]:
    """Moving gradient + bouncing shapes + a seven-segment seconds counter, all derived from ``seed``."""
    rng = random.Random(seed)
    width, height = size
    low, high = np.array(_colour(rng), dtype=np.float32), np.array(_colour(rng), dtype=np.float32)
    vertical = rng.random() < 0.5
    speed = rng.uniform(0.1, 0.4)  # gradient cycles per second
    shapes = []
    for _ in range(4):
        w, h = rng.randrange(width // 8, width // 3), rng.randrange(height // 8, height // 3)
        shapes.append(
            _Shape(
                ellipse=rng.random() < 0.5,
                w=w,
                h=h,
                x=rng.uniform(0, width - w),
                y=rng.uniform(0, height - h),
                vx=rng.uniform(-width, width) / 3,  # px per second
                vy=rng.uniform(-height, height) / 3,
                colour=_colour(rng),
            )
        )
    axis = np.linspace(0.0, 1.0, height if vertical else width, endpoint=False, dtype=np.float32)
    unit = max(1, min(width, height) // 40)
    for i in range(count):
        t = i / fps
        phase = 0.5 + 0.5 * np.sin(2 * np.pi * (axis + speed * t))
        ramp = low + (high - low) * phase[:, None]
        pixels = np.broadcast_to(ramp[:, None, :] if vertical else ramp[None, :, :], (height, width, 3))
        image = Image.fromarray(np.ascontiguousarray(pixels).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
        for shape in shapes:
            x = round(_bounce(shape.x + shape.vx * t, width - shape.w))
            y = round(_bounce(shape.y + shape.vy * t, height - shape.h))
            box = (x, y, x + shape.w, y + shape.h)
            if shape.ellipse:
                draw.ellipse(box, fill=shape.colour)
            else:
                draw.rectangle(box, fill=shape.colour)
        left, top = width - 15 * unit, height - 11 * unit  # bottom right: the contact-sheet label goes top left
        draw.rectangle((left, top, left + 13 * unit - 1, top + 9 * unit - 1), fill=(0, 0, 0))
        _draw_counter(draw, int(t) % 100, (left + unit, top + unit), unit, (255, 255, 255))
        yield image


def _bounce(position: float, span: float) -> float:
    if span <= 0:
        return 0.0
    period = position % (2 * span)
    return period if period <= span else 2 * span - period


def make_test_video(
    seed: int,
    *,
    seconds: float = 3,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    container: str = "mp4",
) -> bytes:
    """A small, playable, benign synthetic video (H.264/MP4 or VP8/WebM), encoded in memory.

    Content: a slowly moving colour gradient, four bouncing shapes and a seven-segment seconds counter, all
    derived from ``seed``.  Byte-identical for the same arguments with the same PyAV/FFmpeg build (bit-exact
    muxing, single-threaded encoders, x264 without assembly), also across threads; another FFmpeg/x264/libvpx
    version gives visually the same frames but possibly different bytes.
    """
    if not 0 < seconds <= 600:
        raise VideoError("bad_argument", "seconds must be in (0, 600]")
    count = max(1, round(seconds * fps))
    return encode_video(_synthetic_frames(seed, count, fps, size), fps=fps, container=container)


# ------------------------------------------------------------------------------------------------ decoding


def _iter_frames(
    data: bytes,
    *,
    every_seconds: float,
    max_frames: int,
    max_pixels: int,
    max_duration_s: float,
    max_side: int | None,
) -> Iterator[Frame]:
    if every_seconds <= 0 or max_frames < 1 or max_pixels < 1 or max_duration_s <= 0:
        raise VideoError("bad_argument", "every_seconds, max_frames, max_pixels and max_duration_s must be positive")
    try:
        container = _av().open(io.BytesIO(data), "r", options={"format_whitelist": ALLOWED_FORMATS})
    except Exception as exc:
        raise VideoError("bad_video", f"not a readable video container ({type(exc).__name__})") from exc
    with container:
        try:
            yield from _decode(container, every_seconds, max_frames, max_pixels, max_duration_s, max_side)
        except VideoError:
            raise
        except Exception as exc:
            raise VideoError("bad_video", f"decoding failed ({type(exc).__name__}: {exc})") from exc


def _decode(
    container: av.container.InputContainer,
    every_seconds: float,
    max_frames: int,
    max_pixels: int,
    max_duration_s: float,
    max_side: int | None,
) -> Iterator[Frame]:
    if not container.streams.video:
        raise VideoError("bad_video", "no video stream")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise VideoError("bad_video", "video stream has no frame size")
    if width * height > max_pixels:
        raise VideoError("too_large", f"{width}x{height} frames exceed {max_pixels} pixels")
    duration = _declared_duration(container, stream)
    if duration is not None and duration > max_duration_s:
        raise VideoError("too_long", f"declared duration {duration:.0f} s exceeds {max_duration_s:.0f} s")
    interval = every_seconds
    if duration is not None and duration / interval > max_frames:
        interval = duration / max_frames  # spread the samples over the whole video instead of its beginning
    rate = float(stream.average_rate or stream.guessed_rate or 0) or None
    start: float | None = None
    due = 0.0
    sampled = 0
    for number, frame in enumerate(container.decode(stream)):
        if number >= _MAX_DECODED_FRAMES:
            raise VideoError("too_large", f"more than {_MAX_DECODED_FRAMES} frames")
        if frame.width * frame.height > max_pixels:
            raise VideoError("too_large", f"{frame.width}x{frame.height} frame exceeds {max_pixels} pixels")
        raw = frame.time
        if raw is None:
            raw = number / rate if rate else float(number)
        if start is None:
            start = raw
        timestamp = raw - start
        if timestamp > max_duration_s:
            raise VideoError("too_long", f"frame at {timestamp:.0f} s exceeds {max_duration_s:.0f} s")
        if timestamp + 1e-6 < due:
            continue
        image = Image.fromarray(frame.to_ndarray(format="rgb24"), "RGB")
        if max_side is not None and max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        yield Frame(index=number, timestamp=round(timestamp, 6), image=image)
        sampled += 1
        if sampled >= max_frames:
            return
        while due <= timestamp + 1e-6:
            due += interval
    if sampled == 0:
        raise VideoError("no_frames", "no decodable frames")


def _declared_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return float(container.duration / _av().time_base)
    return None


def sample_frames(
    data: bytes,
    *,
    every_seconds: float = 1.0,
    max_frames: int = 600,
    max_pixels: int = _DEFAULT_MAX_PIXELS,
    max_duration_s: float = _DEFAULT_MAX_DURATION_S,
    max_side: int | None = 1024,
) -> list[Frame]:
    """Decode ``data`` in memory and return about one RGB frame every ``every_seconds``.

    The first decoded frame is always taken; then the first frame at or after each multiple of the interval.
    If the declared duration would give more than ``max_frames`` samples the interval is stretched so the samples
    cover the whole video; at most ``max_frames`` are returned in any case.  Returned images are shrunk to fit
    ``max_side`` x ``max_side`` (``None``: full size) so 600 samples of a 4K video do not exhaust memory.

    Raises :class:`VideoError` (never anything else) for undecodable, truncated, oversized or overlong input.
    """
    return list(
        _iter_frames(
            data,
            every_seconds=every_seconds,
            max_frames=max_frames,
            max_pixels=max_pixels,
            max_duration_s=max_duration_s,
            max_side=max_side,
        )
    )


# ------------------------------------------------------------------------------------------------ vPDQ


def vpdq_hashes(
    data: bytes,
    *,
    seconds_per_hash: float = 1.0,
    max_frames: int = 4 * 3600,
    max_pixels: int = _DEFAULT_MAX_PIXELS,
    max_duration_s: float = _DEFAULT_MAX_DURATION_S,
) -> list[FrameHash]:
    """vPDQ-style video hash: PDQ of one frame per ``seconds_per_hash``, consecutive identical hashes collapsed.

    Each sampled frame is converted to RGB at full size and hashed with :func:`hotline.lib.pdq.hash_rgb`
    (``pdqhash.compute``, the ThreatExchange PDQ C++ code; hex in that module's canonical bit order).  A frame
    whose hash equals the last *retained* hash (PDQ distance 0) is dropped - the "pruning frames" step of the
    vPDQ description with D_prune = 0 - so a static video yields one feature.

    Differences from the reference ``vpdq`` package (ThreatExchange ``vpdq/cpp``, which could not be built here):

    * Frame choice: the reference keeps frames whose *number* is a multiple of ``int(seconds_per_hash * fps)``
      and reports ``timestamp = frame_number / fps``; here the first frame at or after each multiple of
      ``seconds_per_hash`` by *presentation time* is kept and its real timestamp reported.  Identical for
      integer constant frame rates; differs for 29.97 fps (reference: every 29th frame) and variable frame rate.
    * RGB conversion: the reference uses swscale with LANCZOS to RGB24; here PyAV's ``to_ndarray("rgb24")``
      (swscale with PyAV's default, bilinear).  Both hash at native size, so only chroma upsampling differs:
      expect identical or near-identical (a few bits) hashes, not a bit-exact match with reference hash lists.
    * Pruning: the reference C++ implementation does not prune at all (it returns every sampled frame);
      python-threatexchange de-duplicates exact hashes across the whole video before matching.  Here only
      consecutive exact duplicates are dropped, so the output is a subset of the reference output in frame
      order with the same set of distinct hashes; the vPDQ matching (on sets of unique hashes) is unaffected.
    * Long videos: more than ``max_frames`` samples stretch the interval (see :func:`sample_frames`).
    """
    hashes: list[FrameHash] = []
    frames = _iter_frames(
        data,
        every_seconds=seconds_per_hash,
        max_frames=max_frames,
        max_pixels=max_pixels,
        max_duration_s=max_duration_s,
        max_side=None,
    )
    for frame in frames:
        try:
            pdq = hash_rgb(np.asarray(frame.image, dtype=np.uint8))
        except Exception as exc:
            raise VideoError("bad_video", f"PDQ failed on frame {frame.index} ({type(exc).__name__})") from exc
        if hashes and hashes[-1].hex == pdq.hex:
            continue
        hashes.append(FrameHash(index=frame.index, timestamp=frame.timestamp, hex=pdq.hex, quality=pdq.quality))
    return hashes


# ------------------------------------------------------------------------------------------------ contact sheet


def _label(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    tenths = int((seconds - whole) * 10)
    return f"{hours}:{minutes:02d}:{secs:02d}.{tenths}" if hours else f"{minutes:02d}:{secs:02d}.{tenths}"


def contact_sheet(
    frames: Sequence[Frame],
    *,
    columns: int = 4,
    tile: tuple[int, int] = (160, 120),
    blur: bool = True,
) -> bytes:
    """PNG grid of key frames, ``min(columns, len(frames))`` tiles wide, each labelled with its timestamp.

    With ``blur`` (the default, analyst-safe) tiles are greyscale and Gaussian-blurred with a radius of 1/20 of the
    tile's larger side (8 px at 160x120) and the PNG is mode ``L``; without it, RGB and sharp.  Frames are fitted
    into the tile keeping their aspect ratio (letterboxed in black).  The labels are drawn after blurring.
    """
    if not frames:
        raise VideoError("no_frames", "no frames for a contact sheet")
    if columns < 1 or tile[0] < 16 or tile[1] < 16:
        raise VideoError("bad_argument", "columns must be positive and tiles at least 16x16")
    mode = "L" if blur else "RGB"
    cols = min(columns, len(frames))
    rows = math.ceil(len(frames) / cols)
    sheet = Image.new(mode, (cols * tile[0], rows * tile[1]), 0)
    radius = max(tile) / 20
    font = ImageFont.load_default(size=max(8, tile[1] // 10))
    for position, frame in enumerate(frames):
        picture = ImageOps.pad(frame.image.convert(mode), tile, Image.Resampling.LANCZOS, color=0)
        if blur:
            picture = picture.filter(ImageFilter.GaussianBlur(radius))
        draw = ImageDraw.Draw(picture)
        text = _label(frame.timestamp)
        left, top, right, bottom = draw.textbbox((3, 3), text, font=font)
        draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=0)
        draw.text((3, 3), text, fill=255 if blur else (255, 255, 255), font=font)
        sheet.paste(picture, ((position % cols) * tile[0], (position // cols) * tile[1]))
    out = io.BytesIO()
    sheet.save(out, "PNG", optimize=False)
    return out.getvalue()
