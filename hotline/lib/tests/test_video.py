"""Tests for hotline.lib.video: synthetic clips, hostile-input-safe sampling, vPDQ-style hashes, contact sheets.

All media is generated here from seeds (moving gradients, shapes, a seven-segment counter); nothing is loaded.
"""

from __future__ import annotations

import io
import random
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import av
import numpy as np
import pytest
from PIL import Image

from hotline.lib.video import (
    Frame,
    FrameHash,
    VideoError,
    contact_sheet,
    encode_video,
    make_test_video,
    sample_frames,
    vpdq_hashes,
)

# Measured on the 3 s / 10 fps / 160x120 seed-1 clip (PyAV 18.1, bundled FFmpeg): per-frame PDQ distance to the
# original after a transcode was 2-4 (mpeg4 @ 100 kbit/s), 2-6 (VP8/WebM), 2-8 (x264 @ 50 kbit/s), 4-10 (mpeg4 @
# 30 kbit/s), 12-20 (x264 @ 20 kbit/s); between seed 1 and seeds 2-11, closest pair of frames 80-104 bits.
# PDQ's usual match threshold is 31.
REENCODE_MAX_DISTANCE = 12
DIFFERENT_MIN_DISTANCE = 50


@cache
def clip(seed: int = 1, container: str = "mp4", seconds: float = 3) -> bytes:
    return make_test_video(seed, container=container, seconds=seconds)


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def transcode(data: bytes, **encoder: object) -> bytes:
    """Decode every frame and encode again in memory with another codec/bitrate."""
    frames = sample_frames(data, every_seconds=1e-9, max_frames=10_000)
    return encode_video((frame.image for frame in frames), fps=10, **encoder)  # type: ignore[arg-type]


def laplacian_energy(png: bytes, tile_height: int, label_rows: int) -> float:
    """Mean absolute Laplacian, leaving out each tile's (sharp, deliberately unblurred) timestamp label strip."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    lap = np.abs(4 * pixels[1:-1, 1:-1] - pixels[:-2, 1:-1] - pixels[2:, 1:-1] - pixels[1:-1, :-2] - pixels[1:-1, 2:])
    keep = np.arange(1, pixels.shape[0] - 1) % tile_height >= label_rows
    return float(lap[keep].mean())


# ------------------------------------------------------------------------------------------------ make_test_video


@pytest.mark.parametrize(("container", "codec", "format_name"), [("mp4", "h264", "mp4"), ("webm", "vp8", "webm")])
def test_generated_video_decodes_with_expected_properties(container: str, codec: str, format_name: str) -> None:
    data = clip(container=container)
    with av.open(io.BytesIO(data), "r") as video:
        assert format_name in video.format.name.split(",")
        stream = video.streams.video[0]
        assert stream.codec_context.name == codec
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 120)
        assert stream.average_rate == 10
        assert video.duration is not None and abs(video.duration / av.time_base - 3.0) < 0.05
        frames = list(video.decode(stream))
    assert len(frames) == 30
    assert frames[0].format.name == "yuv420p"
    assert [round(float(frame.time or 0), 3) for frame in frames[:3]] == [0.0, 0.1, 0.2]


def test_mp4_is_iso_bmff_and_small() -> None:
    data = clip()
    assert data[4:8] == b"ftyp" and data[8:12] == b"isom"
    assert len(data) < 100_000


def test_generated_video_options() -> None:
    data = make_test_video(4, seconds=2, fps=5, size=(64, 48))
    with av.open(io.BytesIO(data), "r") as video:
        frames = list(video.decode(video.streams.video[0]))
    assert len(frames) == 10 and (frames[0].width, frames[0].height) == (64, 48)


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_generated_video_is_deterministic(container: str) -> None:
    assert make_test_video(1, container=container) == make_test_video(1, container=container)
    assert make_test_video(1, container=container) != make_test_video(2, container=container)


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_generated_video_is_deterministic_across_threads(container: str) -> None:
    # x264's SIMD code once made the bytes depend on the thread / heap state; the sim web encodes in its server thread.
    expected = make_test_video(3, container=container)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: make_test_video(3, container=container), range(8)))
    assert all(result == expected for result in results)


@pytest.mark.parametrize("kwargs", [{"size": (161, 120)}, {"size": (8, 8)}, {"container": "avi"}, {"seconds": 0}])
def test_generated_video_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(VideoError) as info:
        make_test_video(1, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == "bad_argument"


# ------------------------------------------------------------------------------------------------ sample_frames


def test_sample_frames_about_one_per_second() -> None:
    frames = sample_frames(clip(seconds=5))
    assert [frame.timestamp for frame in frames] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [frame.index for frame in frames] == [0, 10, 20, 30, 40]
    assert all(isinstance(frame, Frame) and frame.image.mode == "RGB" for frame in frames)
    assert all(frame.image.size == (160, 120) for frame in frames)


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_sample_frames_interval(container: str) -> None:
    timestamps = [frame.timestamp for frame in sample_frames(clip(container=container), every_seconds=0.5)]
    assert timestamps == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert timestamps == sorted(set(timestamps))


def test_sample_frames_caps_count_and_spreads_over_the_video() -> None:
    frames = sample_frames(clip(seconds=5), max_frames=2)
    assert [frame.timestamp for frame in frames] == [0.0, 2.5]  # interval stretched to 5 s / 2


def test_sample_frames_shrinks_to_max_side() -> None:
    assert {frame.image.size for frame in sample_frames(clip(), max_side=80)} == {(80, 60)}


def test_oversized_frames_are_refused_before_decoding() -> None:
    for function in (sample_frames, vpdq_hashes):
        with pytest.raises(VideoError) as info:
            function(clip(), max_pixels=160 * 120 - 1)
        assert info.value.code == "too_large"
    assert sample_frames(clip(), max_pixels=160 * 120)


def test_overlong_video_is_refused() -> None:
    with pytest.raises(VideoError) as info:
        sample_frames(clip(), max_duration_s=2.0)
    assert info.value.code == "too_long"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a video at all",
        random.Random(1).randbytes(4096),
        b"\x00\x00\x00\x18ftypisom" + random.Random(2).randbytes(4000),
    ],
    ids=["empty", "text", "random", "fake-ftyp"],
)
def test_garbage_is_bad_video(data: bytes) -> None:
    for function in (sample_frames, vpdq_hashes):
        with pytest.raises(VideoError) as info:
            function(data)
        assert info.value.code == "bad_video"


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.95])
def test_truncated_mp4_is_bad_video(fraction: float) -> None:
    data = clip()
    with pytest.raises(VideoError) as info:
        sample_frames(data[: int(len(data) * fraction)])
    assert info.value.code == "bad_video"


def test_indirection_and_image_formats_are_not_demuxed() -> None:
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(png, "PNG")
    concat = b"ffconcat version 1.0\nfile /etc/hostname\n"
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n"
    for data in (png.getvalue(), concat, playlist):
        with pytest.raises(VideoError) as info:
            sample_frames(data)
        assert info.value.code == "bad_video"


def test_corrupted_videos_raise_only_video_error() -> None:
    rng = random.Random(7)
    original = clip(container="webm")
    for _ in range(25):
        data = bytearray(original)
        for _ in range(rng.randrange(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            frames = sample_frames(bytes(data))
        except VideoError as exc:
            assert exc.code in {"bad_video", "no_frames", "too_large", "too_long"}
        else:
            assert all(isinstance(frame, Frame) for frame in frames)


# ------------------------------------------------------------------------------------------------ vpdq_hashes


def test_vpdq_hashes_are_stable() -> None:
    first, second = vpdq_hashes(clip()), vpdq_hashes(clip())
    assert first == second
    assert [(h.index, h.timestamp) for h in first] == [(0, 0.0), (10, 1.0), (20, 2.0)]
    for feature in first:
        assert isinstance(feature, FrameHash)
        assert len(feature.hex) == 64 and int(feature.hex, 16) >= 0
        assert 0 <= feature.quality <= 100


@pytest.mark.parametrize(
    "encoder",
    [{"codec": "mpeg4", "bit_rate": 100_000}, {"codec": "libx264", "bit_rate": 50_000}, {"container": "webm"}],
    ids=["mpeg4-100k", "x264-50k", "vp8"],
)
def test_reencoded_copy_is_near(encoder: dict[str, object]) -> None:
    original = vpdq_hashes(clip())
    copy = vpdq_hashes(transcode(clip(), **encoder))
    assert [h.index for h in copy] == [h.index for h in original]
    distances = [distance(a.hex, b.hex) for a, b in zip(original, copy, strict=True)]
    assert max(distances) <= REENCODE_MAX_DISTANCE, distances


def test_different_seed_is_far() -> None:
    original = vpdq_hashes(clip())
    other = vpdq_hashes(clip(seed=2))
    closest = min(distance(a.hex, b.hex) for a in original for b in other)  # vPDQ matching is bag-of-hashes
    assert closest >= DIFFERENT_MIN_DISTANCE


def test_static_video_collapses_to_one_hash() -> None:
    still = sample_frames(clip())[1].image
    hashes = vpdq_hashes(encode_video([still] * 40, fps=10))
    assert len(hashes) == 1 and hashes[0].index == 0 and hashes[0].timestamp == 0.0


# ------------------------------------------------------------------------------------------------ contact_sheet


def test_contact_sheet_is_a_blurred_greyscale_grid() -> None:
    frames = sample_frames(clip(seconds=6))
    assert len(frames) == 6
    blurred = contact_sheet(frames)
    sharp = contact_sheet(frames, blur=False)
    image = Image.open(io.BytesIO(blurred))
    assert image.format == "PNG" and image.mode == "L"
    assert image.size == (4 * 160, 2 * 120)
    assert Image.open(io.BytesIO(sharp)).mode == "RGB"
    soft, crisp = laplacian_energy(blurred, 120, 24), laplacian_energy(sharp, 120, 24)
    assert soft < 0.25 * crisp, (soft, crisp)


def test_contact_sheet_grid_follows_columns_and_tile() -> None:
    frames = sample_frames(clip())
    sheet = Image.open(io.BytesIO(contact_sheet(frames, columns=2, tile=(80, 60))))
    assert sheet.size == (2 * 80, 2 * 60)
    single = Image.open(io.BytesIO(contact_sheet(frames[:1])))
    assert single.size == (160, 120)


def test_contact_sheet_needs_frames() -> None:
    with pytest.raises(VideoError) as info:
        contact_sheet([])
    assert info.value.code == "no_frames"
