"""What a captured file is: sniffed type, hashes, size, dimensions, PDQ / vPDQ. In memory only."""

from __future__ import annotations

import hashlib
import io
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from hotline.evidence import provenance
from hotline.lib import pdq, video
from hotline.lib.sniff import media_kind, sniff

MAX_IMAGE_PIXELS = 100_000_000


@dataclass
class MediaFacts:
    mime: str
    kind: str
    size: int
    md5: str
    sha1: str
    sha256: str
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    duration: float | None = None
    pdq: str = ""
    pdq_quality: int | None = None
    vpdq: list[dict[str, Any]] = field(default_factory=list)
    bad_reason: str = ""
    # How the file says it was made (C2PA, IPTC source type, generator tags): a hint, never a verdict.
    provenance: dict[str, Any] = field(default_factory=dict)


def analyse(data: bytes, declared_mime: str = "") -> MediaFacts:
    """Never raises for bad content: a broken file is described as broken (``bad_reason``)."""
    mime = sniff(data)
    facts = MediaFacts(
        mime=mime, kind=media_kind(mime), size=len(data), md5=hashlib.md5(data).hexdigest(),  # noqa: S324
        sha1=hashlib.sha1(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest(),  # noqa: S324
    )
    with ExitStack() as opened:
        decoded = None
        if facts.kind == "image":
            decoded = _image(data, facts, opened)
        elif facts.kind == "video":
            _video(data, facts)
        elif declared_mime.startswith(("image/", "video/")):
            facts.bad_reason = f"served as {declared_mime[:60]} but the content is not a recognised image or video"
        if facts.kind in {"image", "video"}:
            facts.provenance = provenance.read(data, mime, decoded=decoded).as_json()
    return facts


def _image(data: bytes, facts: MediaFacts, opened: ExitStack) -> Image.Image | None:
    """Size, frames and PDQ of an image. A still PNG is opened once for all and decoded once (by the hash), and
    returned so that its provenance is read from it (its text chunks may come after the pixels: reading them from
    a fresh open decodes the image again). Anything else, and a PNG whose hash failed: None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = opened.enter_context(Image.open(io.BytesIO(data)))
            facts.width, facts.height = image.size
            facts.frames = getattr(image, "n_frames", 1)
            if image.size[0] * image.size[1] > MAX_IMAGE_PIXELS:
                facts.bad_reason = f"image of {image.size[0]}x{image.size[1]} pixels is over the limit"
                return None
        # a GIF's or WebP's frame count seeks, an APNG's text is read from its last frame: those from a fresh open
        shared = image.format == "PNG" and not getattr(image, "is_animated", False)
        hashed = pdq.hash_opened_image(image, data) if shared else pdq.hash_image_bytes(data)
        facts.pdq, facts.pdq_quality = hashed.hex, hashed.quality
    except pdq.ImageError as exc:
        facts.bad_reason = exc.message
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        facts.bad_reason = f"not a readable image: {exc}"
    else:
        return image if shared else None
    return None


def _video(data: bytes, facts: MediaFacts) -> None:
    try:
        hashes = video.vpdq_hashes(data)
    except video.VideoError as exc:
        facts.bad_reason = exc.message
        return
    facts.vpdq = [{"i": h.index, "t": round(h.timestamp, 3), "pdq": h.hex, "q": h.quality} for h in hashes]
    facts.frames = len(hashes)
    facts.duration = hashes[-1].timestamp if hashes else 0.0
