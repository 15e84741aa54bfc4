"""The annual report: one self-contained HTML file (inline CSS and SVG) and a PDF, in NL, FR or EN.

Aggregates only: no URL, no person and no company is named; every count from 1 to
HOTLINE_STATS_MIN_CELL - 1 (and whatever could be worked back from it) is shown as ``<N``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.functional import Promise
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from hotline.stats import charts, services
from hotline.stats.filters import Filters
from hotline.stats.tables import TEXT, Table, display_rows, suppress

LANGUAGES = ("nl", "fr", "en")
# What a published report holds, in order (never workload, providers or companies: see services).
TABLES = ("headline", "illegal_share", "timings", "long_tail", "monthly", "countries", "verdicts", "content_types",
          "age_groups", "site_types", "sources", "report_kinds", "dismissals")
ROWS_PER_PAGE = 24


@dataclass
class AnnualReport:
    year: int
    language: str
    generated_at: datetime
    minimum: int
    tables: list[Table] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)  # (kind, title in the report's language)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    @property
    def stem(self) -> str:
        return f"annual-report-{self.year}-{self.language}"


def _fold_countries(table: Table, minimum: int) -> Table:
    """Countries with fewer than ``minimum`` illegal items become one "other countries" row."""
    kept = [row for row in table.rows if row["items"] >= minimum]
    rest = [row for row in table.rows if row["items"] < minimum]
    if len(rest) > 1:
        total = sum(row["items"] for row in table.rows)
        other = sum(row["items"] for row in rest)
        kept.append({"key": "", "label": _("Other countries (each fewer than %(n)s)") % {"n": minimum},
                     "items": other, "share": other / total if total else None})
        return replace(table, rows=kept)
    return table


def build(year: int, language: str, *, now: datetime) -> AnnualReport:
    """Compute the tables and charts of ``year`` in ``language`` (suppression applied)."""
    if language not in LANGUAGES:
        raise ValueError(f"lang: unknown value {language!r} (choose from {', '.join(LANGUAGES)})")
    minimum = settings.HOTLINE_STATS_MIN_CELL
    filters = Filters(first=date(year, 1, 1), last=date(year, 12, 31), label=str(year))
    report = AnnualReport(year=year, language=language, generated_at=now, minimum=minimum)
    with translation.override(language):
        for table in services.tables(filters, now=now, names=TABLES):
            if table.name == "countries":
                table = _fold_countries(table, minimum)
            report.tables.append(_freeze(suppress(table, minimum)))
        report.charts = [("monthly", _("Reports and illegal items per month")),
                         ("timings", _("Share reached within 24 h, 3 days and 7 days")),
                         ("countries", _("Illegal items by hosting country"))]
    return report


def _freeze(table: Table) -> Table:
    """Translate every lazy label now, while the report's language is active."""
    rows = [{k: str(v) if isinstance(v, Promise) else v for k, v in row.items()} for row in table.rows]
    columns = [replace(c, label=str(c.label)) for c in table.columns if c.key != "key"]
    return replace(table, title=str(table.title), note=str(table.note), columns=columns, rows=rows)


def render_html(report: AnnualReport) -> str:
    with translation.override(report.language):
        return render_to_string("stats/annual.html", {
            "report": report, "home": settings.HOTLINE_HOME_COUNTRY,
            "tables": [{"table": t, "rows": [[{"text": text, "num": c.kind != TEXT} for text, c in
                                              zip(row, t.columns, strict=True)] for row in display_rows(t)]}
                       for t in report.tables],
            # Our own SVG: matplotlib escapes every text it draws, and the labels are ours.
            "charts": [{"title": title, "svg": mark_safe(charts.svg(kind, report.table(kind), title))}  # noqa: S308
                       for kind, title in report.charts],
        })


# ------------------------------------------------------------------ PDF


def _page(title: str) -> tuple[Figure, Any]:
    figure = Figure(figsize=(8.27, 11.69), dpi=96)  # A4 portrait
    figure.text(0.08, 0.95, title, fontsize=14, weight="bold")
    axes = figure.add_axes((0.06, 0.05, 0.88, 0.86))
    axes.axis("off")
    return figure, axes


def _table_pages(table: Table) -> list[Figure]:
    rows = display_rows(table)
    labels = [textwrap.fill(str(c.label), 16) for c in table.columns]
    pages = []
    for start in range(0, max(len(rows), 1), ROWS_PER_PAGE):
        figure, axes = _page(str(table.title))
        chunk = [[textwrap.fill(cell, 30) for cell in row] for row in rows[start:start + ROWS_PER_PAGE]]
        drawn = axes.table(cellText=chunk or [["-"] * len(labels)], colLabels=labels, loc="upper center",
                           cellLoc="left")
        drawn.auto_set_font_size(False)
        drawn.set_fontsize(7)
        drawn.auto_set_column_width(list(range(len(labels))))
        drawn.scale(1, 1.8)
        if table.note:
            figure.text(0.08, 0.03, textwrap.fill(str(table.note), 110), fontsize=7, color="#555555")
        pages.append(figure)
    return pages


def _cover(report: AnnualReport) -> Figure:
    figure, axes = _page(_("Annual report %(year)s") % {"year": report.year})
    lines = [_("Statistics of the hotline for %(year)s, from the status time stamps of every item.")
             % {"year": report.year},
             _("Counts below %(n)s are shown as <%(n)s.") % {"n": report.minimum},
             _("Generated %(when)s UTC.") % {"when": report.generated_at.strftime("%Y-%m-%d %H:%M")}]
    for n, line in enumerate(lines):
        axes.text(0.0, 0.97 - n * 0.03, line, fontsize=10, transform=axes.transAxes)
    return figure


def render_pdf(report: AnnualReport, path: Path) -> None:
    with translation.override(report.language):
        metadata = {"Title": _("Annual report %(year)s") % {"year": report.year}, "CreationDate": None}
        with PdfPages(path, metadata=metadata) as pdf:
            pdf.savefig(_cover(report))
            for kind, title in report.charts:
                pdf.savefig(charts.figure_for(kind, report.table(kind), title, width=8.27))
            for table in report.tables:
                for page in _table_pages(table):
                    pdf.savefig(page)


def write(report: AnnualReport, out: Path) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.pdf`` into ``out`` (created if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = out / f"{report.stem}.html", out / f"{report.stem}.pdf"
    partial = out / f".{report.stem}.html.part"
    partial.write_text(render_html(report), encoding="utf-8")
    partial.replace(html_path)  # a reader never sees half a file
    partial = out / f".{report.stem}.pdf.part"
    render_pdf(report, partial)
    partial.replace(pdf_path)
    return html_path, pdf_path
