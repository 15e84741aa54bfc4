"""HTML to PDF with WeasyPrint (Debian's pango and fonts), and how full each typeset page is.

WeasyPrint loads pango through cffi when it is imported, so it is imported here on first use: the rest
of the product runs on a machine without those libraries, and a PDF asked for there fails with one line
that says which Debian packages to install.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ImageFile

DEBIAN_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs are missing."""


def _weasyprint() -> Any:
    try:
        import weasyprint  # type: ignore[import-untyped]  # loads pango: see the module docstring
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"PDF output needs WeasyPrint and Debian's {DEBIAN_PACKAGES} "
                             f"('apt-get install {DEBIAN_PACKAGES}'): {exc}") from exc
    finally:
        # Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, which would make every later
        # capture in this process read a truncated image as whole (evidence, PDQ and previews refuse them).
        # Our reports hold only our own SVG charts, so the flag goes back to Pillow's default at once.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # a line per page and pass otherwise
    # matplotlib's SVG styles (stroke, fill) are drawn, but WeasyPrint's CSS parser warns about each one.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    return weasyprint


def available() -> bool:
    try:
        _weasyprint()
    except PdfUnavailable:
        return False
    return True


@dataclass(frozen=True)
class Layout:
    """The typeset document: per page, the share of its text block's height covered by lines and pictures."""

    fill: tuple[float, ...]

    @property
    def pages(self) -> int:
        return len(self.fill)


def _leaves(box: Any) -> Iterator[Any]:
    """Lines of text and pictures (replaced boxes, such as an SVG chart): what is printed on the page."""
    from weasyprint.formatting_structure import boxes  # type: ignore[import-untyped]

    if isinstance(box, boxes.LineBox | boxes.ReplacedBox):
        yield box
        return
    for child in getattr(box, "children", ()):
        yield from _leaves(child)


def page_fill(page: Any) -> float:
    """The share of the page's text block height that printed lines and pictures cover (overlaps once)."""
    page_box = page._page_box  # WeasyPrint's own tests read the layout the same way
    top, height = page_box.content_box_y(), page_box.height
    spans = sorted((max(top, box.position_y), min(top + height, box.position_y + box.margin_height()))
                   for box in _leaves(page_box))
    covered, reach = 0.0, top
    for start, end in spans:
        start = max(start, reach)
        if end > start:
            covered, reach = covered + end - start, end
    return covered / height if height else 0.0


def render(html: str) -> Any:
    """The laid-out document (``.pages``, ``.write_pdf()``)."""
    return _weasyprint().HTML(string=html, base_url=None).render()


def layout_of(document: Any) -> Layout:
    return Layout(tuple(round(page_fill(page), 3) for page in document.pages))


def save(document: Any, path: Path, *, title: str = "") -> None:
    """Write a laid-out document as a PDF file (no creation date: the same figures give the same file)."""
    if title:
        document.metadata.title = title
    document.metadata.created = document.metadata.modified = None
    document.write_pdf(path)


def write(html: str, path: Path, *, title: str = "") -> Layout:
    """Typeset ``html`` into a PDF file at ``path``; returns how full each page is."""
    document = render(html)
    save(document, path, title=title)
    return layout_of(document)
