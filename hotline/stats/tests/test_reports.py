"""`hotline report annual` (HTML + PDF, suppressed, no URL or name) and `hotline report quarterly` (CSV)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings

from hotline.stats.tests.history import NOW, History

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _at_now() -> object:
    with time_machine.travel(NOW, tick=False):
        yield None


def annual(tmp_path: Path, lang: str = "en") -> tuple[str, bytes]:
    call_command("report", "annual", "--year", "2025", "--lang", lang, "--out", str(tmp_path), stdout=io.StringIO(),
                 stderr=io.StringIO())
    stem = tmp_path / f"annual-report-2025-{lang}"
    return stem.with_suffix(".html").read_text(encoding="utf-8"), stem.with_suffix(".pdf").read_bytes()


def test_it_writes_a_self_contained_html_and_a_pdf(history: History, tmp_path: Path) -> None:
    html, pdf = annual(tmp_path)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert html.count("<svg") == 3 and "<style>" in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)  # nothing fetched from elsewhere
    assert '<html lang="en">' in html


def test_it_publishes_aggregates_only(history: History, tmp_path: Path) -> None:
    html, _ = annual(tmp_path)
    for private in ("sim.test", "Quick Host", "Big Social", "ana", "bert", "sara", "workload"):
        assert not re.search(rf"\b{private}\b", html), private
    assert 'id="headline"' in html and 'id="countries"' in html


def test_it_suppresses_small_cells_and_what_reveals_them(history: History, tmp_path: Path) -> None:
    html, _ = annual(tmp_path)
    countries = html[html.index('id="countries"'):html.index('id="verdicts"')]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", countries)
    # NL and US (1 each) fold into "other countries": 2, shown as <5. BE (6) is hidden too, as 8 illegal
    # items are published and 8 - 6 would give the other countries away; the shares rest on hidden counts.
    assert cells == ["BE (home)", "*", "*", "Other countries (each fewer than 5)", "&lt;5", "*"]
    headline = html[html.index('id="headline"'):html.index('id="illegal_share"')]
    assert re.search(r"Case files opened</td><td[^>]*>&lt;5</td><td[^>]*>&lt;5</td><td[^>]*>\*</td>", headline)


@override_settings(HOTLINE_STATS_MIN_CELL=1)
def test_it_shows_every_cell_when_suppression_is_off(history: History, tmp_path: Path) -> None:
    html, _ = annual(tmp_path)
    assert "&lt;" not in html.split("</svg>")[-1]


def test_it_writes_the_report_in_each_language(history: History, tmp_path: Path) -> None:
    for lang in ("nl", "fr"):
        html, pdf = annual(tmp_path, lang)
        assert f'<html lang="{lang}">' in html and pdf.startswith(b"%PDF-")


def test_it_refuses_a_year_to_come(tmp_path: Path, db: None) -> None:
    with pytest.raises(CommandError, match="--year"):
        call_command("report", "annual", "--year", "2031", "--out", str(tmp_path))


def quarterly(**kwargs: str) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("report", "quarterly", "--year", "2025", "--quarter", "1", stdout=out, stderr=io.StringIO())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_it_exports_the_quarter_for_the_network(history: History) -> None:
    rows = quarterly()
    total = rows[0]
    assert (total["scope"], total["period_start"], total["period_end"]) == ("total", "2025-01-01", "2025-03-31")
    # Q1 2025: A1, A2, A3 and five reports (A1 twice, A2, A3, and B1 named again).
    assert {k: total[k] for k in ("reports_received", "urls_received", "urls_illegal", "urls_baseline",
                                  "urls_national")} == {"reports_received": "5", "urls_received": "3",
                                                        "urls_illegal": "3", "urls_baseline": "2",
                                                        "urls_national": "1"}
    # Police at 2 h, 24 h, 72 h: median 24 h, p90 = 24 + 0.8 * 48 = 62.4 h; within 3 days: all three.
    assert (total["police_reached"], total["police_median_hours"], total["police_p90_hours"],
            total["police_within_3d_pct"]) == ("3", "24.0", "62.4", "100.0")
    # Removal at 20 h, 96 h, 240 h.
    assert (total["removal_reached"], total["removal_median_hours"], total["removal_within_3d_pct"]) == (
        "3", "96.0", "33.3")
    assert [(r["scope"], r["country"], r["urls_illegal"]) for r in rows[1:]] == [("hosting_country", "BE", "3")]


def test_it_needs_a_quarter(db: None) -> None:
    with pytest.raises(CommandError, match="--quarter"):
        call_command("report", "quarterly", "--year", "2025")
