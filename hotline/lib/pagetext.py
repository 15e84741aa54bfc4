"""A safe, readable text extract of a captured HTML page: its title, visible text and links.

Parsed with the standard library's tokenizer (nothing is executed, nothing is fetched); the
input, the text and the link list are capped so that a hostile page costs bounded time and space.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

MAX_INPUT_BYTES = 2_000_000
MAX_TEXT_CHARS = 20_000
MAX_TITLE_CHARS = 300
MAX_LINKS = 200
MAX_LINK_CHARS = 2_000
# Elements whose content is never visible text.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object"})
# Elements that end a line of visible text.
_BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
                    "header", "footer", "nav", "ul", "ol", "table", "blockquote", "pre", "hr", "dd", "dt",
                    "figcaption", "form", "main", "aside", "td", "th"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_.:-]{1,40})", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u200b]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class PageText:
    title: str
    text: str
    links: list[str]
    truncated: bool = False


def decode_html(body: bytes, content_type: str = "") -> str:
    """Decode with the charset the server or the page names (if Python knows it), else UTF-8;
    undecodable bytes become U+FFFD, never an error."""
    for found in (_HEADER_CHARSET.search(content_type), _META_CHARSET.search(body[:4096])):
        if found is None:
            continue
        name = found.group(1)
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        try:
            codec = codecs.lookup(name)
        except LookupError:
            continue
        if codec.name not in ("utf-7", "utf_7"):  # UTF-7 smuggles markup past filters
            return body.decode(codec.name, errors="replace")
    return body.decode("utf-8", errors="replace")


def _clean(value: str) -> str:
    return _CONTROL.sub("", value)


def absolute_link(href: str, base: str) -> str | None:
    """``href`` made absolute against ``base``, or None unless it is an http(s) URL."""
    href = _clean(href).strip()
    if not href or len(href) > MAX_LINK_CHARS:
        return None
    try:
        url = urljoin(base, href)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts._replace(fragment="").geturl()


class _Extractor(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.title: list[str] = []
        self.chunks: list[str] = []
        self.size = 0
        self.links: list[str] = []
        self._seen: set[str] = set()
        self._hidden: list[str] = []
        self._in_title = False
        self._base_set = False
        self.truncated = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _HIDDEN:
            self._hidden.append(tag)
        if tag in _BLOCK:
            self._text("\n")
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and values.get("href") and not self._base_set:
            self._base_set = True
            self.base_url = absolute_link(values["href"], self.base_url) or self.base_url
        if tag in ("a", "area") and values.get("href"):
            self._link(values["href"])
        if tag == "img" and values.get("alt") and not self._hidden:
            self._text(f" [{values['alt']}] ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _HIDDEN and tag in self._hidden:
            while self._hidden and self._hidden.pop() != tag:
                pass
        if tag in _BLOCK:
            self._text("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            if sum(map(len, self.title)) < MAX_TITLE_CHARS:
                self.title.append(data)
        elif not self._hidden:
            self._text(data)

    def _text(self, data: str) -> None:
        if self.size >= MAX_TEXT_CHARS:
            self.truncated = self.truncated or bool(data.strip())
            return
        self.chunks.append(data)
        self.size += len(data)

    def _link(self, href: str) -> None:
        url = absolute_link(href, self.base_url)
        if url is None or url in self._seen:
            return
        if len(self.links) >= MAX_LINKS:
            self.truncated = True
            return
        self._seen.add(url)
        self.links.append(url)


def _collapse(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in _clean(text.replace("\r", "\n")).split("\n"))
    return "\n".join(line for line in lines if line)


def extract_page_text(body: bytes, base_url: str, content_type: str = "") -> PageText:
    """Title, visible text (scripts and styles dropped, whitespace collapsed) and absolute links."""
    truncated = len(body) > MAX_INPUT_BYTES
    parser = _Extractor(base_url)
    try:
        parser.feed(decode_html(body[:MAX_INPUT_BYTES], content_type))
        parser.close()
    except (AssertionError, ValueError):  # the tokenizer gave up on broken markup: keep what it found
        pass
    title = _SPACES.sub(" ", _clean(" ".join("".join(parser.title).split()))).strip()[:MAX_TITLE_CHARS]
    text = _collapse("".join(parser.chunks))[:MAX_TEXT_CHARS]
    return PageText(title, text, parser.links, truncated or parser.truncated)
