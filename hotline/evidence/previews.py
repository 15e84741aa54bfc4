"""Previews of stored evidence (media, screenshots): decrypted from the store and thumbnailed in memory
(``hotline.lib.thumbnails``, ``hotline.lib.video``); never cached, never written to disk."""

from __future__ import annotations

from hotline.evidence.models import Capture, Media
from hotline.evidence.store import get_blob_bytes
from hotline.lib import thumbnails, video

PLACEHOLDER_SIZE = (240, 240)


def preview_png(media: Media, *, blur: bool) -> bytes:
    assert media.blob is not None
    data = get_blob_bytes(media.blob)
    try:
        if media.kind == "video":
            return video.contact_sheet(video.sample_frames(data, max_frames=12), blur=blur)
        return thumbnails.safe_thumbnail(data, size=(480, 480) if not blur else PLACEHOLDER_SIZE, blur=blur)
    except (thumbnails.PreviewError, video.VideoError):
        return thumbnails.placeholder(PLACEHOLDER_SIZE, "no preview")


def screenshot_png(capture: Capture, *, blur: bool) -> bytes:
    """A capture's screenshot: blurred and greyscale like media, or sharp at its own size."""
    assert capture.screenshot is not None
    try:
        return thumbnails.safe_thumbnail(get_blob_bytes(capture.screenshot),
                                         size=(1280, 900) if not blur else (480, 340), blur=blur)
    except thumbnails.PreviewError:
        return thumbnails.placeholder(PLACEHOLDER_SIZE, "no preview")
