"""Safe thumbnails of hostile image bytes: small, greyscale and blurred by default (a plain library;
``hotline.evidence.previews`` uses it to show stored media and screenshots).

Captured images are hostile input.  :func:`safe_thumbnail` reads the header lazily and refuses images over
``max_pixels`` *before* decoding pixel data (decompression bombs), decodes only the first frame of animations,
applies the EXIF orientation and turns every failure into :class:`PreviewError`.

This module has no Django imports.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFilter, ImageOps

__all__ = ["DEFAULT_MAX_PIXELS", "PreviewError", "placeholder", "safe_thumbnail"]

#: Below Pillow's own ``Image.MAX_IMAGE_PIXELS`` (89 MP).  Pillow checks that one inside ``Image.open`` (a warning
#: above it, :class:`PIL.Image.DecompressionBombError` above twice it); both are mapped to ``too_large`` too.
DEFAULT_MAX_PIXELS = 50_000_000


class PreviewError(Exception):
    """A preview could not be made.  ``code``: ``bad_image`` (unreadable, truncated, unsupported), ``too_large``
    (pixel count over the limit) or ``bad_argument``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def safe_thumbnail(
    data: bytes,
    *,
    size: tuple[int, int] = (240, 240),
    blur: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> bytes:
    """A PNG thumbnail fitting in ``size`` (aspect ratio kept, never enlarged).

    With ``blur`` (the default) it is greyscale (mode ``L``) with a Gaussian blur of radius 1/20 of its larger
    side (12 px at 240); without, RGB and sharp.  Transparent areas are composited onto mid-grey.  Animated
    images (GIF, APNG, WebP) give their first frame.  Raises :class:`PreviewError`, never anything else.
    """
    if size[0] < 1 or size[1] < 1 or max_pixels < 1:
        raise PreviewError("bad_argument", "size and max_pixels must be positive")
    try:
        return _thumbnail(data, size, blur, max_pixels)
    except PreviewError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's own limit, or its
        # warning turned into an error by a warnings filter; Image.open checks it before we see the size.
        raise PreviewError("too_large", str(exc)) from exc
    except Exception as exc:
        raise PreviewError("bad_image", f"cannot decode image ({type(exc).__name__}: {exc})") from exc


def _thumbnail(data: bytes, size: tuple[int, int], blur: bool, max_pixels: int) -> bytes:
    with Image.open(io.BytesIO(data)) as image:  # lazy: reads the header only
        width, height = image.size
        if width < 1 or height < 1:
            raise PreviewError("bad_image", "image has no pixels")
        if width * height > max_pixels:
            raise PreviewError("too_large", f"{width}x{height} exceeds {max_pixels} pixels")
        # JPEG: let libjpeg decode at a reduced scale (still >= size on both axes, whatever the EXIF rotation).
        side = max(size)
        image.draft(None, (side, side))
        image.seek(0)  # first frame of an animation (already current after open; explicit for clarity)
        image.load()
        picture = ImageOps.exif_transpose(image)
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        picture = Image.alpha_composite(backdrop, rgba)
    picture = picture.convert("L" if blur else "RGB")
    picture.thumbnail(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if blur:
        picture = picture.filter(ImageFilter.GaussianBlur(max(picture.size) / 20))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def placeholder(size: tuple[int, int], text: str) -> bytes:
    """A plain grey PNG with a short label, shown when no preview can be made."""
    image = Image.new("L", size, 200)
    ImageDraw.Draw(image).text((10, size[1] // 2 - 6), text, fill=60)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
