"""The annual report as typeset by WeasyPrint on demo-like data: how many pages, how full each one is, and
what the cover, the contents and the key figures hold, in English, Dutch and French.

The figures measured are written to ``artifacts/annual-report-layout.txt`` (and the PDFs beside them).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.stats import annual, pdf
from hotline.stats.tests import demo_like

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _weasyprint() -> None:
    if not pdf.available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"WeasyPrint cannot load: apt-get install {pdf.DEBIAN_PACKAGES}")
        pytest.skip(f"WeasyPrint cannot load (apt-get install {pdf.DEBIAN_PACKAGES})")


def _text(page: object) -> str:
    from weasyprint.formatting_structure import boxes  # type: ignore[import-untyped]

    def walk(box: object) -> list[str]:
        if isinstance(box, boxes.TextBox):
            return [box.text]
        return [t for child in getattr(box, "children", ()) for t in walk(child)]

    return " ".join(walk(page._page_box))  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", ["en", "nl", "fr"])
def test_it_fills_every_page_at_least_a_quarter(language: str, db: None) -> None:
    demo_like.build()
    report = annual.build(2025, language, now=NOW)
    document, layout = annual.typeset(report)
    ARTIFACTS.mkdir(exist_ok=True)
    pdf.save(document, ARTIFACTS / f"{report.stem}.pdf")
    with (ARTIFACTS / "annual-report-layout.txt").open("a", encoding="utf-8") as out:
        out.write(f"{language}: {layout.pages} pages, filled {', '.join(f'{f:.0%}' for f in layout.fill)}\n")
    assert 4 <= layout.pages <= 10, layout
    assert min(layout.fill) >= annual.MIN_FILL, layout
    pages = [_text(page) for page in document.pages]
    # The cover leads with the seven key figures, the contents follow with the page of every section.
    cover = pages[0]
    assert all(figure.label in cover for figure in report.key_figures)
    contents = re.findall(r"([^.\d][^.]*?)\s(?:\.\s+)+(\d+)\b", pages[1].split(" ", 1)[1])
    assert len(contents) == 7, contents
    numbers = [int(n) for _title, n in contents]
    assert numbers == sorted(numbers) and numbers[-1] <= layout.pages
    for title, number in contents:
        assert title.strip() in pages[int(number) - 1], (title, number)  # the section starts on that page


def test_it_explains_the_suppression_mark_and_leads_with_the_seed_figures(db: None) -> None:
    demo_like.build()
    report = annual.build(2025, "en", now=NOW)
    html = annual.render_html(report)
    assert "shown as &lt;5" in html and "shown as *" in html
    keys = {figure.key: figure for figure in report.key_figures}
    assert list(keys) == ["reports", "cases", "illegal_share", "countries", "police", "removal", "dismissals"]
    assert keys["reports"].value == "1,100" and keys["reports"].detail.startswith("+22.2% on the year before (900)")
    assert keys["countries"].value == "13"  # located hosting countries of illegal items, before folding
    assert re.fullmatch(r"\d+\.\d%", keys["dismissals"].value)
    # The charts are sized to the A4 text block and described in words for who cannot see them.
    assert html.count('role="img"') == 3 and 'width="493.2pt"' in html

