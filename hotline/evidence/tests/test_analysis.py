"""A captured file's analysis opens and decodes a PNG once (the PDQ hash decodes it, the provenance reads its text
and EXIF from the same image): the same facts as opening it for each, for every kind of file."""

from __future__ import annotations

import dataclasses
import io
import re
import struct
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageFile, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from hotline.evidence import analysis, provenance
from hotline.evidence.analysis import MAX_IMAGE_PIXELS, MediaFacts, analyse
from hotline.lib import pdq
from hotline.lib.sniff import media_kind, sniff
from hotline.sim.images import make_garbage, make_image, make_truncated, make_video_stub
from hotline.sim.provenance import marked_image


def _each_opened_apart(data: bytes, declared: str = "") -> MediaFacts:
    """The analysis as it was: the image opened for its size, again for the hash, again for the provenance."""
    mime = sniff(data)
    facts = MediaFacts(mime=mime, kind=media_kind(mime), size=len(data), md5="", sha1="", sha256="")
    if facts.kind == "image":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as image:
                    facts.width, facts.height = image.size
                    facts.frames = getattr(image, "n_frames", 1)
                    if image.size[0] * image.size[1] > MAX_IMAGE_PIXELS:
                        facts.bad_reason = f"image of {image.size[0]}x{image.size[1]} pixels is over the limit"
            if not facts.bad_reason:
                hashed = pdq.hash_image_bytes(data)
                facts.pdq, facts.pdq_quality = hashed.hex, hashed.quality
        except pdq.ImageError as exc:
            facts.bad_reason = exc.message
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            facts.bad_reason = f"not a readable image: {exc}"
    elif facts.kind == "video":
        analysis._video(data, facts)
    elif declared.startswith(("image/", "video/")):
        facts.bad_reason = f"served as {declared[:60]} but the content is not a recognised image or video"
    if facts.kind in {"image", "video"}:
        facts.provenance = provenance.read(data, mime).as_json()
    return facts


def _png_with_text_after_the_pixels(base: bytes, key: str, value: str) -> bytes:
    """``base`` (a PNG) with a tEXt chunk between its last IDAT and IEND: found only once the pixels are read."""
    body = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    end = base.rindex(b"IEND") - 4
    return base[:end] + chunk + base[end:]


def _png(mode: str, size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    with Image.open(io.BytesIO(make_image("png", 3, size))) as image:
        out = io.BytesIO()
        (image.convert(mode) if mode != "I;16" else image.convert("I").point(lambda v: v * 256).convert("I;16")
         ).save(out, "PNG", **save)
    return out.getvalue()


def _apng() -> bytes:
    frames = [Image.open(io.BytesIO(make_image("png", seed))) for seed in (1, 2, 3)]
    info = PngInfo()
    info.add_text("Software", "ComfyUI (synthetic)")
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], pnginfo=info)
    return _png_with_text_after_the_pixels(out.getvalue(), "parameters", "Steps: 20, Sampler: Euler a, late")


SAMPLES: dict[str, Callable[[], bytes]] = {
    "png": lambda: make_image("png", 7),
    "png_large_fast_path": lambda: make_image("png", 8, (640, 560)),
    "png_text_after_pixels": lambda: _png_with_text_after_the_pixels(
        make_image("png", 9), "parameters", "a prompt\nSteps: 20, Sampler: Euler a, CFG scale: 7"),
    "png_text_after_pixels_large": lambda: _png_with_text_after_the_pixels(
        make_image("png", 9, (600, 600)), "Software", "Midjourney v6"),
    "png_generator_text": lambda: marked_image("pngtext", 4)[0],
    "png_c2pa": lambda: marked_image("c2pa", 5)[0],
    "png_grey": lambda: _png("L"),
    "png_palette": lambda: _png("P"),
    "png_rgba": lambda: _png("RGBA"),
    "png_16_bit": lambda: _png("I;16"),
    "png_with_exif": lambda: _png("RGB", exif=_exif()),
    "png_too_small": lambda: make_image("png", 1, (3, 3)),
    "png_truncated": lambda: make_truncated("png", 5),
    "apng_text_at_the_end": _apng,
    "jpeg": lambda: make_image("jpeg", 7),
    "jpeg_large_draft": lambda: make_image("jpeg", 8, (1100, 900)),
    "jpeg_xmp": lambda: marked_image("xmp", 4)[0],
    "jpeg_exif": lambda: marked_image("exif", 4)[0],
    "gif": lambda: make_image("gif", 7),
    "animated_gif": lambda: make_image("animated_gif", 7),
    "webp": lambda: make_image("webp", 7),
    "truncated_jpeg": lambda: make_truncated("jpeg", 5),
    "garbage": lambda: make_garbage(5),
    "video": lambda: make_video_stub(5),
}


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0131] = "Stable Diffusion (synthetic)"
    return exif


def _comparable(facts: MediaFacts) -> dict[str, Any]:
    found = dataclasses.asdict(facts)
    found["bad_reason"] = re.sub(r"0x[0-9a-f]+", "0x…", found["bad_reason"])  # a stream's address in Pillow's text
    found.pop("md5"), found.pop("sha1"), found.pop("sha256")
    return found


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_same_facts_as_opening_the_image_for_each(name: str) -> None:
    data = SAMPLES[name]()
    got = analyse(data, "image/png")
    assert _comparable(got) == _comparable(_each_opened_apart(data, "image/png")), name
    if name.startswith(("png_text_after", "png_generator", "apng")):
        assert got.provenance and got.provenance["ai"], got.provenance  # the late text chunk was read


def test_a_png_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _png_with_text_after_the_pixels(make_image("png", 9), "parameters", "Steps: 20, Sampler: Euler a")
    decoded: list[str | None] = []
    real = ImageFile.ImageFile.load

    def load(image: ImageFile.ImageFile) -> Any:
        if image.tile:  # pixels still to decode
            decoded.append(image.format)
        return real(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    facts = analyse(data, "image/png")
    assert facts.pdq and facts.provenance["ai"]
    assert decoded == ["PNG"]
    decoded.clear()
    _each_opened_apart(data)
    assert decoded == ["PNG", "PNG"]  # as it was: the hash's decode, and the provenance's
