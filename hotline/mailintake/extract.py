"""Find the reported URLs in a mail: text and HTML bodies, text attachments and CSV attachments.

Each candidate remembers where it was found (``body line 3``, ``attachment 'list.csv' line 4``), so a
URL that intake rejects is named with its place. Defanged spellings used in abuse reporting
(``hxxp://``, ``example[.]org``) are read as the URLs they stand for.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from hotline.mailintake.message import ParsedMail, Part

MAX_CANDIDATES = 10_000
_REFANG = (
    (re.compile(r"\bhxxp(s?)(?=(?:\[:\]|:)//)", re.IGNORECASE), r"http\1"),
    (re.compile(r"\[(?:\.|dot)\]|\((?:\.|dot)\)|\{\.\}", re.IGNORECASE), "."),
    (re.compile(r"\[:\]"), ":"),
)
# A URL runs to white space or a character that never appears unescaped in one (<, >, ", `, {, }, |, ^).
_URL = re.compile(r"""(?:\bhttps?://|\bwww\.)[^\s<>"'`{}|\\^]+""", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*"
_PAIRS = {")": "(", "]": "["}


@dataclass(frozen=True)
class Candidate:
    url: str
    where: str


@dataclass(frozen=True)
class Problem:
    where: str
    field: str
    message: str
    value: str = ""

    def as_dict(self) -> dict[str, str]:
        found = {"where": self.where, "field": self.field, "message": self.message}
        return found | ({"value": self.value[:300]} if self.value else {})


@dataclass
class Extraction:
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    truncated: bool = False

    def add(self, url: str, where: str) -> None:
        if url in self._seen:
            return  # the same URL in the text and HTML alternatives of one body counts once
        if len(self.candidates) >= MAX_CANDIDATES:
            self.truncated = True
            return
        self._seen.add(url)
        self.candidates.append(Candidate(url, where))


def refang(text: str) -> str:
    for pattern, replacement in _REFANG:
        text = pattern.sub(replacement, text)
    return text


def _trim(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the URL, and unbalanced closing brackets."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _PAIRS and url.count(last) > url.count(_PAIRS[last])):
            url = url[:-1]
            continue
        break
    return url


def urls_in_text(text: str) -> list[tuple[int, str]]:
    """``(line number, url)`` for every URL-looking run in ``text``; never raises."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _URL.finditer(refang(line)):
            url = _trim(match.group(0))
            if url.lower() not in ("http://", "https://", "www."):
                found.append((number, url))
    return found


class _Links(HTMLParser):
    """The href of every link, and the visible text, of an HTML body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[int, str]] = []
        self.text: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        href = dict(attrs).get("href") if tag == "a" else None
        if href and re.match(r"\s*(?:https?|hxxps?)(?::|\[:\])//", href, re.IGNORECASE):
            self.links.append((self.getpos()[0], href.strip()))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append((self.getpos()[0], data))


def html_urls(html: str) -> list[tuple[int, str]]:
    parser = _Links()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: S110 - HTMLParser is lenient; keep whatever it read before giving up
        pass
    found = [(line, refang(href)) for line, href in parser.links]
    for line, data in parser.text:
        found.extend((line + offset - 1, url) for offset, url in urls_in_text(data))
    return sorted(found, key=lambda pair: pair[0])


def html_text(html: str) -> str:
    parser = _Links()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: S110 - see html_urls
        pass
    return " ".join(" ".join(data for _, data in parser.text).split())


def _csv_part(part: Part, name: str, result: Extraction) -> bool:
    """Read a CSV with a ``url`` column, one URL per line; False when it has no such column."""
    reader = csv.reader(io.StringIO(part.text or "", newline=""))
    try:
        header = [cell.strip().lower().lstrip("\ufeff") for cell in next(reader, [])]
    except csv.Error:
        return False
    if "url" not in header:
        return False
    column = header.index("url")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return True
        except csv.Error as exc:
            result.problems.append(Problem(f"{name} line {reader.line_num}", "*", f"not valid CSV: {exc}"))
            continue
        where = f"{name} line {reader.line_num}"
        value = row[column].strip() if column < len(row) else ""
        if not value:
            if any(cell.strip() for cell in row):
                result.problems.append(Problem(where, "url", "empty"))
            continue
        result.add(refang(value), where)


def _part_name(part: Part) -> str:
    if part.attachment:
        return f"attachment '{part.filename or f'part {part.index}'}'"
    return "HTML body" if part.content_type == "text/html" else "body"


def extract(mail: ParsedMail) -> Extraction:
    """All URL candidates of ``mail`` in reading order (text bodies, HTML bodies, then attachments)."""
    result = Extraction()
    for part in sorted((p for p in mail.parts if p.text is not None), key=lambda p: (p.attachment, p.index)):
        name = _part_name(part)
        is_csv = part.content_type == "text/csv" or part.filename.lower().endswith(".csv")
        if is_csv and _csv_part(part, name, result):
            continue
        found = html_urls(part.text or "") if part.content_type == "text/html" else urls_in_text(part.text or "")
        for line, url in found:
            result.add(url, f"{name} line {line}")
    return result
