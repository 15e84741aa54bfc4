"""Provenance hints read from synthetic images that carry each kind of marking (and from ones that carry none)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from hotline.evidence import provenance
from hotline.evidence.analysis import analyse
from hotline.sim.images import make_image
from hotline.sim.provenance import GENERATOR, marked_image, with_c2pa, with_xmp_png


def test_c2pa_manifest_gives_the_source_type_generator_and_signer() -> None:
    data, mime = marked_image("c2pa", 3)
    found = provenance.read(data, mime)
    assert found.ai and not found.manipulated
    assert {"via": "c2pa", "source_type": "trainedAlgorithmicMedia", "generator": GENERATOR,
            "detail": f"c2pa.created by {GENERATOR}"} in found.sources
    # Signed by the throwaway test CA: read, but not trusted (never presented as verified).
    assert found.c2pa["signed_by"] == "Simulation test signer"
    assert found.c2pa["status"] == "untrusted signer"


def test_a_c2pa_composite_is_manipulated_not_ai() -> None:
    found = provenance.read(with_c2pa(make_image("png", 4), "image/png", source_type="compositeSynthetic"),
                            "image/png")
    assert found.manipulated and not found.ai


def test_a_tampered_c2pa_image_says_its_manifest_is_invalid() -> None:
    data, mime = marked_image("c2pa", 5, size=(96, 72))
    pixels_at = data.rfind(b"IDAT")
    tampered = bytearray(data)
    tampered[pixels_at + 40] ^= 0xFF  # change the image bytes the manifest's hash covers
    found = provenance.read(bytes(tampered), mime)
    assert found.c2pa["status"].startswith(("invalid", "unreadable")), found.c2pa


@pytest.mark.parametrize(("marking", "via", "generator"), [
    ("xmp", "xmp", ""),
    ("pngtext", "png-text", "Stable Diffusion (web UI parameters)"),
    ("exif", "exif", "midjourney"),
])
def test_each_marking_is_found_and_flags_ai(marking: str, via: str, generator: str) -> None:
    data, mime = marked_image(marking, 7)
    found = provenance.read(data, mime)
    assert found.ai
    assert [s["via"] for s in found.sources] == [via]
    assert found.sources[0]["generator"] == generator
    if marking == "xmp":
        assert found.sources[0]["source_type"] == "trainedAlgorithmicMedia"


def test_xmp_in_a_png_itxt_chunk_is_read() -> None:
    found = provenance.read(with_xmp_png(make_image("png", 8), "compositeSynthetic"), "image/png")
    assert found.manipulated
    assert found.sources[0]["source_type"] == "compositeSynthetic"


def test_a_camera_or_editor_tag_is_no_hint() -> None:
    with Image.open(io.BytesIO(make_image("jpeg", 9))) as image:
        exif = image.getexif()
        exif[0x0131] = "GIMP 2.10"
        out = io.BytesIO()
        image.save(out, "JPEG", exif=exif)
    info = PngInfo()
    info.add_text("parameters", "not generation settings at all")
    info.add_text("Software", "Shotwell")
    with Image.open(io.BytesIO(make_image("png", 9))) as image:
        png = io.BytesIO()
        image.save(png, "PNG", pnginfo=info)
    for data, mime in ((out.getvalue(), "image/jpeg"), (png.getvalue(), "image/png"),
                       marked_image("stripped", 9)):
        found = provenance.read(data, mime)
        assert found.as_json() == {}
        assert not found.ai


def test_ai_generator_text_in_exif_user_comment_is_read() -> None:
    with Image.open(io.BytesIO(make_image("jpeg", 10))) as image:
        exif = image.getexif()
        exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00Steps: 30, Sampler: DPM++ 2M, Seed: 1"
        out = io.BytesIO()
        image.save(out, "JPEG", exif=exif)
    found = provenance.read(out.getvalue(), "image/jpeg")
    assert found.ai
    assert found.sources[0]["detail"].startswith("UserComment: Steps: 30")


def test_garbage_with_c2pa_like_bytes_never_raises() -> None:
    junk = b"jumb" + b"c2pa" * 50 + b"\x00" * 100
    found = provenance.read(junk, "image/png")
    assert not found.ai
    assert provenance.read(b"<x:xmpmeta DigitalSourceType=\"x", "application/octet-stream").sources == [
        {"via": "xmp", "source_type": "x", "generator": "", "detail": "Iptc4xmpExt:DigitalSourceType"}]


def test_analyse_carries_the_hints() -> None:
    data, _mime = marked_image("xmp", 11)
    facts = analyse(data, "image/jpeg")
    assert facts.provenance["ai"] is True
    assert analyse(make_image("png", 11), "image/png").provenance == {}
