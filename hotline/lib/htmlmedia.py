"""Find the media a captured HTML page refers to: img, srcset, picture/video sources, posters,
simple CSS backgrounds and links straight to media files."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

MEDIA_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".avif", ".mp4", ".webm", ".m4v", ".mov")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", re.IGNORECASE)


def _srcset(value: str) -> list[str]:
    return [part.strip().split()[0] for part in value.split(",") if part.strip()]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        if tag in ("img", "source", "video", "audio", "embed", "input"):
            for name in ("src", "poster", "data-src"):
                if values.get(name):
                    self.found.append(values[name])
        for name in ("srcset", "data-srcset"):
            if values.get(name):
                self.found.extend(_srcset(values[name]))
        if tag == "a" and values.get("href", "").lower().split("?")[0].endswith(MEDIA_EXTENSIONS):
            self.found.append(values["href"])
        if values.get("style"):
            self.found.extend(m.group(2) for m in _CSS_URL.finditer(values["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found.extend(m.group(2) for m in _CSS_URL.finditer(data))


def media_urls(html: str, page_url: str, *, limit: int = 200) -> list[str]:
    """Absolute http(s) URLs of the media in ``html``, in page order, without duplicates."""
    collector = _Collector()
    try:
        collector.feed(html)
        collector.close()
    except (AssertionError, ValueError):
        pass  # hostile markup: keep what was found before the parser gave up
    base = urljoin(page_url, collector.base) if collector.base else page_url
    seen: dict[str, None] = {}
    for raw in collector.found:
        raw = raw.strip()
        if not raw or raw.startswith(("data:", "javascript:", "#")):
            continue
        absolute = urljoin(base, raw)
        if urlsplit(absolute).scheme in ("http", "https"):
            seen.setdefault(absolute.split("#")[0], None)
        if len(seen) >= limit:
            break
    return list(seen)
