"""The quarterly export for the hotline network: the aggregate figures a member reports, as CSV.

One ``total`` row, then one ``hosting_country`` row per country of the quarter's illegal items.
Exact figures (no suppression: they go to the network, not to the public). Columns: docs/statistics.md.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from hotline.assessment.codes import Verdict
from hotline.stats.figures import STEPS, facts, online_beyond, reports, step_figures
from hotline.stats.filters import Filters, parse_filters
from hotline.stats.models import ItemFact

COLUMNS = [
    "hotline", "year", "quarter", "period_start", "period_end", "scope", "country", "reports_received",
    "urls_received", "urls_assessed", "urls_illegal", "urls_baseline", "urls_national",
    *(f"{step}_{suffix}" for step in STEPS
      for suffix in ("expected", "reached", "median_hours", "p90_hours", "within_3d_pct")),
    "online_beyond_42d",
]


def quarter_filters(year: int, quarter: int) -> Filters:
    return parse_filters({"year": [str(year)], "quarter": [str(quarter)]}, today=date(year, 1, 1))


def _hours(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.1f}"


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


def _beyond(now: datetime) -> Q:
    late, online = online_beyond("removal_secs", "reported_at", now)
    return late | online


def _row(qs: QuerySet[ItemFact], now: datetime) -> dict[str, Any]:
    counted = qs.aggregate(
        urls_received=Count("pk"), urls_assessed=Count("pk", filter=~Q(verdict="")),
        urls_illegal=Count("pk", filter=Q(illegal=True)), urls_baseline=Count("pk", filter=Q(verdict=Verdict.BASELINE)),
        urls_national=Count("pk", filter=Q(verdict=Verdict.NATIONAL)),
        online_beyond_42d=Count("pk", filter=Q(illegal=True) & _beyond(now)))
    row: dict[str, Any] = dict(counted)
    for step, figures in step_figures(qs, now).items():
        row.update({f"{step}_expected": figures["n"], f"{step}_reached": figures["reached"],
                    f"{step}_median_hours": _hours(figures["median"]), f"{step}_p90_hours": _hours(figures["p90"]),
                    f"{step}_within_3d_pct": _pct(figures["within_3d"])})
    return row


def rows(year: int, quarter: int, *, now: datetime) -> list[dict[str, Any]]:
    filters = quarter_filters(year, quarter)
    common = {"hotline": settings.HOTLINE_EXCHANGE_CODE, "year": year, "quarter": quarter,
              "period_start": filters.first.isoformat(), "period_end": filters.last.isoformat()}
    in_quarter = facts(filters)
    found = [{**common, "scope": "total", "country": "", "reports_received": reports(filters).count(),
              **_row(in_quarter, now)}]
    countries = (in_quarter.filter(illegal=True).values_list("country", flat=True).distinct().order_by("country"))
    for country in countries:
        found.append({**common, "scope": "hosting_country", "country": country or "unknown",
                      "reports_received": "", **_row(in_quarter.filter(country=country), now)})
    return found


def to_csv(year: int, quarter: int, *, now: datetime) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(year, quarter, now=now))
    return out.getvalue()
