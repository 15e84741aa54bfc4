"""The annual report: one self-contained HTML file (inline CSS and SVG) and a PDF typeset from the same
HTML by WeasyPrint, in NL, FR or EN.

Aggregates only: no URL, no person and no company is named; every count from 1 to
HOTLINE_STATS_MIN_CELL - 1 (and whatever could be worked back from it) is shown as ``<N``.
"""

from __future__ import annotations

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

from hotline.lib import numbers
from hotline.stats import charts, pdf, services
from hotline.stats.filters import Filters
from hotline.stats.tables import CHANGE, COUNT, SECONDS, SHARE, TEXT, Suppressed, Table, display_rows, show, suppress

LANGUAGES = ("nl", "fr", "en")
# What a published report holds, in order (never workload, providers or companies: see services).
TABLES = ("headline", "illegal_share", "timings", "long_tail", "monthly", "ai_media", "countries", "verdicts",
          "content_types", "age_groups", "site_types", "sources", "report_kinds", "dismissals")
# Charts on an A4 page: the text block is 174 mm (6.85 in) wide.
CHART_WIDTH, CHART_HEIGHT = 6.85, 3.1


@dataclass
class KeyFigure:
    """One headline figure for the cover and the key-figures page, already formatted for people."""

    key: str
    label: str
    value: str
    detail: str


@dataclass
class AnnualReport:
    year: int
    language: str
    generated_at: datetime
    minimum: int
    tables: list[Table] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)  # (kind, title in the report's language)
    key_figures: list[KeyFigure] = field(default_factory=list)
    hosting_countries: int = 0

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
    """Compute the tables, charts and key figures of ``year`` in ``language`` (suppression applied)."""
    if language not in LANGUAGES:
        raise ValueError(f"lang: unknown value {language!r} (choose from {', '.join(LANGUAGES)})")
    minimum = settings.HOTLINE_STATS_MIN_CELL
    filters = Filters(first=date(year, 1, 1), last=date(year, 12, 31), label=str(year))
    report = AnnualReport(year=year, language=language, generated_at=now, minimum=minimum)
    with translation.override(language):
        for table in services.tables(filters, now=now, names=TABLES):
            if table.name == "countries":
                report.hosting_countries = sum(1 for row in table.rows if row["key"] and row["items"])
                table = _fold_countries(table, minimum)
            report.tables.append(_freeze(suppress(table, minimum)))
        report.charts = [("monthly", _("Reports and illegal items per month")),
                         ("timings", _("Share reached within 24 h, 3 days and 7 days")),
                         ("countries", _("Illegal items by hosting country"))]
        report.key_figures = key_figures(report)
    return report


def _freeze(table: Table) -> Table:
    """Translate every lazy label now, while the report's language is active."""
    rows = [{k: str(v) if isinstance(v, Promise) else v for k, v in row.items()} for row in table.rows]
    columns = [replace(c, label=str(c.label), missing=str(c.missing)) for c in table.columns if c.key != "key"]
    return replace(table, title=str(table.title), note=str(table.note), columns=columns, rows=rows)


# ------------------------------------------------------------------ key figures


def _volume(report: AnnualReport, key: str, label: str) -> KeyFigure:
    row = next(row for row in report.table("headline").rows if row["key"] == key)
    if row["previous"] is None:
        detail = _("No data for the year before.")
    elif row["change"] is None or isinstance(row["change"], Suppressed):
        detail = _("%(previous)s the year before.") % {"previous": show(row["previous"], COUNT)}
    else:
        detail = _("%(change)s on the year before (%(previous)s).") % {
            "change": show(row["change"], CHANGE), "previous": show(row["previous"], COUNT)}
    return KeyFigure(key, label, show(row["value"], COUNT), detail)


def _share_illegal(report: AnnualReport) -> KeyFigure:
    now, before = report.table("illegal_share").rows
    detail = (_("No data for the year before.") if before["assessed"] is None else
              _("%(share)s the year before.") % {"share": show(before["share"], SHARE)})
    assessed = _("%(n)s items assessed.") % {"n": show(now["assessed"], COUNT)}
    return KeyFigure("illegal_share", _("Share illegal of assessed items"), show(now["share"], SHARE),
                     f"{assessed} {detail}")


def _countries(report: AnnualReport) -> KeyFigure:
    table, home = report.table("countries"), settings.HOTLINE_HOME_COUNTRY
    home_row = next((row for row in table.rows if row["key"] == home), None)
    detail = (_("%(share)s of illegal items hosted in %(home)s.") % {
        "share": show(home_row["share"], SHARE), "home": home} if home_row else
        _("No illegal item hosted in %(home)s.") % {"home": home})
    return KeyFigure("countries", _("Hosting countries of illegal items"),
                     numbers.count(report.hosting_countries), detail)


def _timing(report: AnnualReport, step: str, label: str) -> KeyFigure:
    row = next(row for row in report.table("timings").rows if row["key"] == step)
    detail = _("Median; %(share)s within 3 days; 90 in 100 within %(p90)s.") % {
        "share": show(row["within_3d"], SHARE), "p90": show(row["p90"], SECONDS)}
    return KeyFigure(step, label, show(row["median"], SECONDS), detail)


def _dismissals(report: AnnualReport) -> KeyFigure:
    rows = {row["year"]: row for row in report.table("dismissals").rows}
    now, before = rows.get(str(report.year), {}), rows.get(str(report.year - 1), {})
    detail = (_("%(rate)s the year before (%(n)s cases decided).") % {
        "rate": show(before.get("rate"), SHARE), "n": show(before.get("decided"), COUNT)}
        if before.get("decided") else _("No case decided the year before."))
    decided = _("%(n)s cases decided.") % {"n": show(now.get("decided"), COUNT)}
    return KeyFigure("dismissals", _("Dismissal rate of referred cases"), show(now.get("rate"), SHARE),
                     f"{decided} {detail}")


def key_figures(report: AnnualReport) -> list[KeyFigure]:
    """The seven figures a hotline leads its annual report with (volumes, share illegal, where, how fast,
    and what became of the cases)."""
    return [_volume(report, "reports", _("Reports received")), _volume(report, "cases", _("Case files opened")),
            _share_illegal(report), _countries(report),
            _timing(report, "police", _("Time from report to police")),
            _timing(report, "removal", _("Time from report to removal")), _dismissals(report)]


# ------------------------------------------------------------------ HTML and PDF


def _context(report: AnnualReport) -> dict[str, Any]:
    tables = {t.name: {"table": t, "rows": [[{"text": text, "num": c.kind != TEXT} for text, c in
                                              zip(row, t.columns, strict=True)] for row in display_rows(t)]}
              for t in report.tables}
    drawn = {kind: {"title": title, "description": charts.describe(kind, report.table(kind)),
                    # Our own SVG: matplotlib escapes every text it draws, and the labels are ours.
                    "svg": mark_safe(charts.svg(kind, report.table(kind), title,  # noqa: S308
                                                width=CHART_WIDTH, height=CHART_HEIGHT))}
             for kind, title in report.charts}
    # Sections in reading order: (id, title, chart or None, tables)
    sections = [
        ("volumes", _("Reports, items and case files"), None, ["headline", "illegal_share"]),
        ("months", _("Month by month"), "monthly", ["monthly", "ai_media"]),
        ("speed", _("How fast content reaches the police and goes offline"), "timings", ["timings", "long_tail"]),
        ("where", _("Where the illegal content was hosted"), "countries", ["countries"]),
        ("what", _("What was reported"), None, ["verdicts", "content_types", "age_groups", "site_types", "sources",
                                                  "report_kinds"]),
        ("cases", _("What became of the cases"), None, ["dismissals"]),
    ]
    return {"report": report, "home": settings.HOTLINE_HOME_COUNTRY, "organisation": settings.HOTLINE_ORGANISATION,
            "sections": [{"id": sid, "title": title, "chart": drawn.get(chart) if chart else None,
                          "tables": [tables[name] for name in names if name in tables]}
                         for sid, title, chart, names in sections],
            "example": {"below": f"<{report.minimum}"}}


def render_html(report: AnnualReport, *, compact: bool = False) -> str:
    with translation.override(report.language):
        return render_to_string("stats/annual.html", {**_context(report), "compact": compact})


# No page of the PDF is to be less than a quarter full (issue 15): when the last page holds only a spill-over,
# the report is set again a little tighter, which pulls those lines back onto the page before.
MIN_FILL = 0.25


def typeset(report: AnnualReport) -> tuple[Any, pdf.Layout]:
    """The laid-out PDF document and how full each page is; set tighter when the last page would be nearly empty."""
    document = pdf.render(render_html(report))
    layout = pdf.layout_of(document)
    if layout.pages > 1 and layout.fill[-1] < MIN_FILL:
        tighter = pdf.render(render_html(report, compact=True))
        tighter_layout = pdf.layout_of(tighter)
        if min(tighter_layout.fill) > min(layout.fill):
            return tighter, tighter_layout
    return document, layout


def render_pdf(report: AnnualReport, path: Path) -> pdf.Layout:
    """Typeset the report as an A4 PDF at ``path``; returns the layout (pages and how full each is)."""
    document, layout = typeset(report)
    pdf.save(document, path, title=_title(report))
    return layout


def _title(report: AnnualReport) -> str:
    with translation.override(report.language):
        return str(_("Annual report %(year)s") % {"year": report.year})


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
