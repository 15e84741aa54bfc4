"""Content-type sniffing from the first bytes: hostile servers lie in their headers."""

from __future__ import annotations

_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
]
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<img", b"<div", b"<p", b"<a ")


def sniff(data: bytes) -> str:
    """The MIME type the bytes are, by signature; ``application/octet-stream`` when unknown."""
    head = data[:64]
    for magic, offset, mime in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "image/avif" if brand in (b"avif", b"avis") else "video/mp4"
    text = data[:1024].lstrip().lower()
    if any(text.startswith(marker) or marker in text[:512] for marker in _HTML_MARKERS):
        return "text/html"
    if text.startswith((b"<?xml", b"<svg")):
        return "image/svg+xml"
    return "application/octet-stream"


def media_kind(mime: str) -> str:
    if mime.startswith("image/") and mime != "image/svg+xml":
        return "image"
    if mime.startswith("video/"):
        return "video"
    return "other"
