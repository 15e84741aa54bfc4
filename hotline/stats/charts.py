"""Charts drawn on the server with matplotlib as SVG text (no JavaScript, nothing fetched from elsewhere).

Suppressed cells are drawn as no bar with a ``<5`` mark, so a chart never shows what its table hides.
"""

from __future__ import annotations

import functools
import io
import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from hotline.lib import numbers
from hotline.stats.tables import Suppressed, Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@functools.cache
def _matplotlib() -> Any:
    """matplotlib, imported when the first chart is drawn (about a second of every process's start-up
    otherwise: the URL configuration imports this module)."""
    import matplotlib
    import matplotlib.figure
    import matplotlib.ticker

    # Text as SVG text (small, selectable, translatable) and stable element ids (reproducible files).
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "hotline-stats"
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans"]
    return matplotlib


COLOURS = ("#2b5c8a", "#d08c2f", "#7a9a4b", "#a44a4a")
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def _figure(width: float = 7.0, height: float = 3.0) -> tuple[Figure, Any]:
    # Fixed margins: an automatic layout engine doubles the drawing time of a chart.
    figure = _matplotlib().figure.Figure(figsize=(width, height), dpi=96)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def to_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element, ready to be placed inside an HTML page."""
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return _PROLOGUE.sub("", out.getvalue(), count=1)


def _number(value: Any) -> float:
    return 0.0 if value is None or isinstance(value, Suppressed) else float(value)


def _mark_hidden(axes: Any, positions: Sequence[float], values: Sequence[Any], *, horizontal: bool = False) -> None:
    for position, value in zip(positions, values, strict=True):
        if isinstance(value, Suppressed):
            xy = (0, position) if horizontal else (position, 0)
            axes.annotate(str(value), xy, ha="left" if horizontal else "center",
                          va="center" if horizontal else "bottom", fontsize=8, color="#666666")


def draw_monthly(axes: Any, table: Table, title: str) -> None:
    """Reports and illegal items per month, side by side."""
    months = [str(row["month"])[2:] for row in table.rows]
    series = [("reports", table.column("reports").label), ("illegal", table.column("illegal").label)]
    width = 0.4
    for n, (key, label) in enumerate(series):
        values = [row[key] for row in table.rows]
        positions = [i + (n - 0.5) * width for i in range(len(months))]
        axes.bar(positions, [_number(v) for v in values], width, label=str(label), color=COLOURS[n])
        _mark_hidden(axes, positions, values)
    axes.set_xticks(range(len(months)), months, rotation=45 if len(months) > 12 else 0, fontsize=8)
    highest = max([_number(row[key]) for row in table.rows for key, _label in series] + [0.0])
    axes.set_ylim(0, highest * 1.1 or 1)
    axes.yaxis.set_major_locator(_matplotlib().ticker.MaxNLocator(integer=True))
    axes.set_title(title, fontsize=11)
    axes.legend(fontsize=8, frameon=False)


def draw_timings(axes: Any, table: Table, title: str) -> None:
    """Per step, the share within 24 h, 3 days and 7 days (percent)."""
    marks = [("within_24h", table.column("within_24h").label), ("within_3d", table.column("within_3d").label),
             ("within_7d", table.column("within_7d").label)]
    steps = [textwrap.fill(str(row["step"]), 22) for row in table.rows]  # French step names run long
    width = 0.26
    for n, (key, label) in enumerate(marks):
        values = [row[key] for row in table.rows]
        positions = [i + (n - 1) * width for i in range(len(steps))]
        axes.bar(positions, [_number(v) * 100 for v in values], width, label=str(label), color=COLOURS[n])
        _mark_hidden(axes, positions, values)
    axes.set_xticks(range(len(steps)), steps, fontsize=9)
    axes.set_ylim(0, 118)  # room for the legend above the highest bar
    axes.set_yticks([0, 20, 40, 60, 80, 100])
    axes.set_ylabel("%")
    axes.set_title(title, fontsize=11)
    axes.legend(fontsize=8, frameon=False, ncols=3, loc="upper center")


TOP = 10


def draw_ranking(axes: Any, table: Table, title: str) -> None:
    """The first rows of a table (``label`` and ``items``) as horizontal bars, largest on top."""
    rows = table.rows[:TOP]
    names = [str(row["label"]) for row in rows][::-1]
    values = [row["items"] for row in rows][::-1]
    axes.barh(range(len(rows)), [_number(v) for v in values], color=COLOURS[0])
    _mark_hidden(axes, list(range(len(rows))), values, horizontal=True)
    axes.set_yticks(range(len(rows)), names, fontsize=9)
    axes.set_xlim(0, max([_number(v) for v in values] + [0.0]) * 1.1 or 1)
    axes.xaxis.set_major_locator(_matplotlib().ticker.MaxNLocator(integer=True))
    axes.set_title(title, fontsize=11)


def _margins(figure: Figure, kind: str, table: Table, width: float, height: float) -> None:
    """Room for the axis labels and the title (about 7 px a character at 9 pt)."""
    left_px = 48.0
    if kind == "countries":
        left_px = max([len(str(row["label"])) for row in table.rows[:TOP]] + [4]) * 7.0 + 20
    bottom = 0.6 if (kind == "monthly" and len(table.rows) > 12) or kind == "timings" else 0.4
    figure.subplots_adjust(left=min(0.5, left_px / (96 * width)), right=0.97, bottom=bottom / height,
                           top=1 - 0.35 / height)


DRAWERS = {"monthly": draw_monthly, "timings": draw_timings, "countries": draw_ranking}


def figure_for(kind: str, table: Table, title: str, *, width: float = 7.0, height: float = 3.0) -> Figure:
    """A figure with one chart of ``kind`` (monthly, timings or countries) drawn from ``table``.

    ``width`` and ``height`` are inches; the countries chart takes the height its bars need."""
    if kind == "countries":
        height = max(1.6, 0.35 * min(len(table.rows), TOP) + 0.9)
    figure, axes = _figure(width, height)
    DRAWERS[kind](axes, table, title)
    _margins(figure, kind, table, width, height)
    (axes.xaxis if kind == "countries" else axes.yaxis).set_major_formatter(_matplotlib().ticker.FuncFormatter(_tick))
    return figure


def _tick(value: float, _position: int) -> str:
    """Axis numbers in the active language (``1.000`` in Dutch, ``1 000`` in French)."""
    return numbers.count(int(value)) if float(value).is_integer() else numbers.count(value)


_ID = re.compile(r'(\bid="|url\(#|href="#)')


def svg(kind: str, table: Table, title: str, *, width: float = 7.0, height: float = 3.0) -> str:
    """The chart as SVG text; its element ids start with ``<kind>-`` so several charts share one page."""
    return _ID.sub(lambda m: f"{m.group(1)}{kind}-", to_svg(figure_for(kind, table, title, width=width,
                                                                       height=height)))


def describe(kind: str, table: Table) -> str:
    """The chart in one or two sentences, for people who cannot see it (its table holds every value)."""
    rows = [row for row in table.rows if not any(isinstance(v, Suppressed) for v in row.values())]
    if not table.rows:
        return str(_("No data in this period."))
    if kind == "monthly":
        busiest = max(rows, key=lambda r: _number(r["reports"]), default=None)
        total = sum(_number(r["reports"]) for r in rows)
        if busiest is None:
            return str(_("Every monthly count is below the publication minimum."))
        return str(_("%(months)s months; most reports in %(month)s (%(reports)s); %(total)s reports in the months "
                     "shown.") % {"months": len(table.rows), "month": busiest["month"],
                                  "reports": numbers.count(busiest["reports"]), "total": numbers.count(int(total))})
    if kind == "timings":
        parts = [str(_("%(step)s: %(share)s within 3 days")) % {
            "step": row["step"], "share": "-" if row["within_3d"] is None else numbers.percent(row["within_3d"])}
            for row in rows]
        return "; ".join(parts) + "." if parts else str(_("Every share rests on a count below the minimum."))
    top = rows[:3]
    return str(_("Most illegal items hosted in: %(list)s.")) % {"list": ", ".join(
        f"{row['label']} ({numbers.count(row['items'])})" for row in top)} if top else ""
