"""Item figures: volumes with year-on-year change, share illegal, times to police / notice / removal,
the long tail, hosting countries and breakdowns. Definitions: docs/statistics.md.

A ``Scope`` holds one request's filters and computes each shared scan once: the item "cube" (counts per
combination of dimensions) feeds the headline, the countries and four breakdowns; one aggregate feeds
the timings and the long tail; one grouping of reports feeds their count, sources and months.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hotline.assessment.codes import AgeGroup, ContentType, SiteType, Verdict
from hotline.cases.models import Case, CaseItem
from hotline.reports.models import Report, ReportItem, ReportKind, Source
from hotline.routing.models import Route
from hotline.stats.filters import Filters
from hotline.stats.models import ItemFact
from hotline.stats.percentiles import PercentileCont, in_sql, percentiles, whole
from hotline.stats.tables import CHANGE, SECONDS, SHARE, TEXT, Column, Table

MARKS: tuple[tuple[str, timedelta], ...] = (
    ("24h", timedelta(hours=24)), ("3d", timedelta(days=3)), ("7d", timedelta(days=7)))
LONG_TAIL = timedelta(days=42)
NO_DATA = _("no data")


def online_beyond(column: str, started: str, now: datetime) -> tuple[Q, Q]:
    """The long tail as (removed late, still online): removed more than 42 days after ``started`` (and gone
    since), or not removed (or online again after a removal) with ``started`` more than 42 days ago."""
    late = Q(**{f"{column}__gt": int(LONG_TAIL.total_seconds())}, online_again=False)
    online = (Q(**{f"{column}__isnull": True}) | Q(online_again=True)) & Q(**{f"{started}__lt": now - LONG_TAIL})
    return late, online


# step -> (duration column, who is expected to reach it)
STEPS: dict[str, tuple[str, Q]] = {
    "police": ("police_secs", Q(illegal=True) & (
        Q(police_secs__isnull=False) | Q(route__in=[Route.DOMESTIC, Route.INTERNATIONAL_POLICE]))),
    "notice": ("notice_secs", Q(illegal=True) & (
        Q(notice_secs__isnull=False) | Q(in_takedown=True) | Q(forwarded=True)
        | Q(route__in=[Route.DOMESTIC, Route.PARTNER]))),
    "removal": ("removal_secs", Q(illegal=True)),
}
STEP_LABELS = {"police": _("Report to police"), "notice": _("Report to notice"), "removal": _("Report to removal")}
CUBE = ("verdict", "illegal", "content_type", "age_group", "site_type", "country")
VOLUME_LABELS = {
    "reports": _("Reports received"), "items": _("URLs reported (items)"), "assessed": _("Items assessed"),
    "illegal": _("Items illegal"), "cases": _("Case files opened"),
    "reuploads": _("Re-uploads (new URLs of known content)"), "reappeared": _("Items back online after removal"),
    "illegal_media": _("Images and videos illegal (distinct files)"),
}


def facts(filters: Filters) -> QuerySet[ItemFact]:
    """Facts of the items first reported in the period that match the filters."""
    return ItemFact.objects.filter(reported_at__gte=filters.start, reported_at__lt=filters.end).filter(
        filters.fact_q())


def reports(filters: Filters) -> QuerySet[Report]:
    """Reports received in the period (by their own source); with item filters, those naming a matching item."""
    found = Report.objects.filter(received_at__gte=filters.start, received_at__lt=filters.end)
    if filters.source:
        found = found.filter(source__in=filters.source)
    item_q = filters.fact_q("item__stats_fact__", skip=("source",))
    if item_q:
        found = found.filter(Exists(ReportItem.objects.filter(item_q, report=OuterRef("pk"))))
    return found


def cases(filters: Filters) -> QuerySet[Case]:
    """Case files opened in the period; with item filters, those holding a matching item (of any period)."""
    found = Case.objects.filter(opened_at__gte=filters.start, opened_at__lt=filters.end)
    if filters.has_item_filters:
        found = found.filter(Exists(CaseItem.objects.filter(filters.fact_q("item__stats_fact__"),
                                                            case=OuterRef("pk"))))
    return found


def change(current: int, previous: int) -> float | None:
    """Relative change from ``previous`` (None when there was nothing to compare with)."""
    return (current - previous) / previous if previous else None


def _month_key(value: Any) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def step_aggregates(now: datetime) -> dict[str, Any]:
    """Counts (and on PostgreSQL percentiles) of every step, and the long tail, for one aggregate query."""
    aggregates: dict[str, Any] = {}
    for step, (column, expected) in STEPS.items():
        reached = expected & Q(**{f"{column}__isnull": False})
        aggregates[f"{step}_n"] = Count("pk", filter=expected)
        aggregates[f"{step}_reached"] = Count("pk", filter=reached)
        for mark, limit in MARKS:
            aggregates[f"{step}_{mark}_hit"] = Count("pk", filter=expected & Q(
                **{f"{column}__lte": int(limit.total_seconds())}))
            known = reached | (expected & Q(reported_at__lte=now - limit))
            aggregates[f"{step}_{mark}_known"] = Count("pk", filter=known)
        if in_sql():
            aggregates[f"{step}_percentiles"] = PercentileCont(column, filter=reached)
    late, online = online_beyond("removal_secs", "reported_at", now)
    aggregates["tail_late"] = Count("pk", filter=Q(illegal=True) & late)
    aggregates["tail_online"] = Count("pk", filter=Q(illegal=True) & online)
    return aggregates


def step_figures(qs: QuerySet[ItemFact], now: datetime, values: dict[str, Any] | None = None,
                 ) -> dict[str, dict[str, Any]]:
    """Per step: expected, reached, median and p90 (seconds), share within each mark, not reached."""
    values = values if values is not None else qs.aggregate(**step_aggregates(now))
    found: dict[str, dict[str, Any]] = {}
    for step, (column, expected) in STEPS.items():
        if in_sql():
            p50, p90 = values[f"{step}_percentiles"] or (None, None)
        else:
            p50, p90 = percentiles(qs.filter(expected), column)
        row: dict[str, Any] = {"n": values[f"{step}_n"], "reached": values[f"{step}_reached"],
                               "median": whole(p50), "p90": whole(p90)}
        for mark, _limit in MARKS:
            known = values[f"{step}_{mark}_known"]
            row[f"within_{mark}"] = values[f"{step}_{mark}_hit"] / known if known else None
        row["not_reached"] = row["n"] - row["reached"]
        found[step] = row
    return found


class Scope:
    """One request's filters and the scans several tables share, each run at most once."""

    def __init__(self, filters: Filters, now: datetime) -> None:
        self.filters, self.now = filters, now

    @cached_property
    def cube(self) -> list[dict[str, Any]]:
        """Item counts per month and combination of verdict, codes and hosting country (a few thousand rows)."""
        rows = facts(self.filters).annotate(month=TruncMonth("reported_at")).values("month", *CUBE).annotate(
            n=Count("pk"), reuploads=Count("pk", filter=Q(reupload=True)),
            reappeared=Count("pk", filter=Q(reappearances__gt=0)), illegal_media=Sum("illegal_media")).order_by()
        return [{**row, "month": _month_key(row["month"])} for row in rows]

    @cached_property
    def report_groups(self) -> list[tuple[str, str, int]]:
        """(month, source, reports) of the period."""
        rows = reports(self.filters).annotate(month=TruncMonth("received_at")).values("month", "source").annotate(
            n=Count("pk")).order_by()
        return [(_month_key(row["month"]), row["source"], row["n"]) for row in rows]

    @cached_property
    def report_kinds(self) -> Counter[str]:
        """Reports of the period by kind: web addresses, or one of the kinds without a URL."""
        rows = reports(self.filters).values("kind").annotate(n=Count("pk")).order_by()
        return Counter({row["kind"]: row["n"] for row in rows})

    @cached_property
    def steps(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        qs = facts(self.filters)
        values = qs.aggregate(**step_aggregates(self.now))
        return step_figures(qs, self.now, values), values

    def sum(self, where: Any = None, by: str | None = None, of: str = "n") -> Counter[str]:
        """Sum ``of`` over the cube rows matching ``where``, per value of ``by`` (or under "")."""
        found: Counter[str] = Counter()
        for row in self.cube:
            if where is None or where(row):
                found[row[by] if by else ""] += row[of]
        return found

    def volumes(self) -> dict[str, int]:
        return {"reports": sum(n for _, _, n in self.report_groups), "cases": cases(self.filters).count(),
                "items": self.sum()[""], "assessed": self.sum(lambda r: r["verdict"] != "")[""],
                "illegal": self.sum(lambda r: r["illegal"])[""], "reuploads": self.sum(of="reuploads")[""],
                "reappeared": self.sum(of="reappeared")[""], "illegal_media": self.sum(of="illegal_media")[""]}


def _previous_volumes(filters: Filters) -> dict[str, int]:
    counted = facts(filters).aggregate(
        items=Count("pk"), assessed=Count("pk", filter=~Q(verdict="")), illegal=Count("pk", filter=Q(illegal=True)),
        reuploads=Count("pk", filter=Q(reupload=True)), reappeared=Count("pk", filter=Q(reappearances__gt=0)),
        illegal_media=Coalesce(Sum("illegal_media"), 0))
    return {"reports": reports(filters).count(), "cases": cases(filters).count(), **counted}


def records_begin() -> datetime | None:
    """When the hotline's records begin: the first report received (None before any)."""
    first: datetime | None = Report.objects.aggregate(first=Min("received_at"))["first"]
    return first


def _earlier(filters: Filters) -> dict[str, int | None]:
    """The volumes of the same days a year earlier; all None ("no data") when that period ended before the
    first report was received, so that a comparison with nothing is not shown as a fall from zero."""
    earlier = filters.previous()
    begin = records_begin()
    if begin is None or earlier.end <= begin:
        return dict.fromkeys(VOLUME_LABELS)
    return dict(_previous_volumes(earlier))


def _share_row(label: Any, volumes: dict[str, Any]) -> dict[str, Any]:
    assessed, illegal = volumes["assessed"], volumes["illegal"]
    return {"period": label, "assessed": assessed, "illegal": illegal,
            "share": illegal / assessed if assessed else None}


def headline(scope: Scope) -> tuple[Table, Table]:
    """Volumes of the period and the same days a year earlier; and the share illegal of both."""
    now, before = scope.volumes(), _earlier(scope.filters)
    volumes = Table("headline", _("Headline figures"), [
        Column("metric", _("Figure"), TEXT), Column("key", _("Key"), TEXT),
        Column("value", _("This period")), Column("previous", _("Same days a year earlier"), missing=NO_DATA),
        Column("change", pgettext_lazy("statistics", "Change"), CHANGE, basis=("value", "previous")),
    ], [{"metric": VOLUME_LABELS[key], "key": key, "value": now[key], "previous": before[key],
         "change": change(now[key], before[key] or 0)} for key in VOLUME_LABELS],
        note=_("“No data” a year earlier: the hotline's records begin after that period.")
        if before["reports"] is None else "")
    share = Table("illegal_share", _("Share illegal of assessed items"), [
        Column("period", _("Period"), TEXT), Column("assessed", _("Assessed"), missing=NO_DATA),
        Column("illegal", _("Illegal"), missing=NO_DATA),
        Column("share", _("Share illegal"), SHARE, basis=("assessed", "illegal")),
    ], [_share_row(_("This period"), now), _share_row(_("Same days a year earlier"), before)])
    return volumes, share


def timings(scope: Scope) -> Table:
    figures, _values = scope.steps
    return Table("timings", _("Time from report to police, notice and removal"), [
        Column("step", _("Step"), TEXT), Column("key", _("Key"), TEXT),
        Column("n", _("Illegal items expected")), Column("reached", _("Reached")),
        Column("median", _("Median"), SECONDS, basis=("reached",)),
        Column("p90", _("90th percentile"), SECONDS, basis=("reached",)),
        Column("within_24h", _("Within 24 h"), SHARE, basis=("reached",)),
        Column("within_3d", _("Within 3 days"), SHARE, basis=("reached",)),
        Column("within_7d", _("Within 7 days"), SHARE, basis=("reached",)),
        Column("not_reached", _("Not (yet) reached")),
    ], [{"step": STEP_LABELS[step], "key": step, **row} for step, row in figures.items()],
        note=_("Measured per item from the first report received. Shares count items whose outcome at "
               "the mark is known."))


def long_tail(scope: Scope) -> Table:
    """Illegal items removed only after 42 days, or still online 42 days after the report."""
    figures, values = scope.steps
    illegal = figures["removal"]["n"]
    beyond = values["tail_late"] + values["tail_online"]
    return Table("long_tail", _("Online beyond 42 days"), [
        Column("illegal", _("Illegal items")), Column("removed_late", _("Removed after 42 days")),
        Column("still_online", _("Still online after 42 days")), Column("beyond", _("Total beyond 42 days")),
        Column("share", _("Share of illegal items"), SHARE, basis=("illegal", "beyond")),
    ], [{"illegal": illegal, "removed_late": values["tail_late"], "still_online": values["tail_online"],
         "beyond": beyond, "share": beyond / illegal if illegal else None}])


# ------------------------------------------------------------------ where and what


def _distribution(name: str, title: Any, rows: Sequence[tuple[str, Any, int]], note: Any = "") -> Table:
    total = sum(count for _, _, count in rows)
    return Table(name, title, [
        Column("key", _("Code"), TEXT), Column("label", _("Label"), TEXT), Column("items", _("Count")),
        Column("share", _("Share"), SHARE, basis=("items",)),
    ], [{"key": key, "label": label, "items": count, "share": count / total if total else None}
        for key, label, count in rows], note=note)


def countries(scope: Scope) -> Table:
    counted = scope.sum(lambda r: r["illegal"], by="country")
    home = settings.HOTLINE_HOME_COUNTRY
    rows = [(code, _label_country(code, home), n) for code, n in sorted(counted.items(), key=lambda c: (-c[1], c[0]))]
    return _distribution("countries", _("Illegal items by hosting country"), rows,
                         note=_("Hosting country from the latest trace that located the item."))


def _label_country(code: str, home: str) -> Any:
    if not code:
        return _("Unknown")
    return _("%(code)s (home)") % {"code": code} if code == home else code


def _labelled(counted: Counter[str], choices: Iterable[tuple[str, Any]]) -> list[tuple[str, Any, int]]:
    """Counts in the order of the code list; codes nobody knows (or blank) after, never dropped."""
    labels = dict(choices)
    rows = [(code, label, counted[code]) for code, label in labels.items()]
    rows += [(code, code or _("Not recorded"), n) for code, n in sorted(counted.items()) if code not in labels]
    return [row for row in rows if row[2]]


def breakdowns(scope: Scope) -> list[Table]:
    def illegal(row: dict[str, Any]) -> bool:
        return bool(row["illegal"])

    sources = Counter[str]()
    for _month, source, n in scope.report_groups:
        sources[source] += n
    return [
        _distribution("verdicts", _("Items by verdict"), _labelled(
            scope.sum(by="verdict"), [*Verdict.choices, ("", _("Not assessed yet"))])),
        _distribution("content_types", _("Illegal items by content"),
                      _labelled(scope.sum(illegal, by="content_type"), ContentType.choices)),
        _distribution("age_groups", _("Illegal items by apparent age group"),
                      _labelled(scope.sum(illegal, by="age_group"), AgeGroup.choices)),
        _distribution("site_types", _("Illegal items by site type"),
                      _labelled(scope.sum(illegal, by="site_type"), SiteType.choices)),
        _distribution("sources", _("Reports by source"), _labelled(sources, Source.choices)),
        _distribution("report_kinds", _("Reports by kind"), _labelled(scope.report_kinds, ReportKind.choices),
                      note=_("Reports without a URL (sextortion, grooming, solicitation) go to the support "
                             "queue and name no item.")),
    ]


def monthly(scope: Scope) -> Table:
    """Reports, items and illegal items per calendar month of the period."""
    rows: dict[str, dict[str, Any]] = {month: {"month": month, "reports": 0, "items": 0, "illegal": 0}
                                       for month in _months(scope.filters)}
    for month, _source, n in scope.report_groups:
        rows[month]["reports"] += n
    for month, n in scope.sum(by="month").items():
        rows[month]["items"] = n
    for month, n in scope.sum(lambda r: r["illegal"], by="month").items():
        rows[month]["illegal"] = n
    return Table("monthly", _("Per month"), [
        Column("month", _("Month"), TEXT), Column("reports", _("Reports")), Column("items", _("Items")),
        Column("illegal", _("Illegal items")),
    ], list(rows.values()))


def _months(filters: Filters) -> list[str]:
    found, year, month = [], filters.first.year, filters.first.month
    while (year, month) <= (filters.last.year, filters.last.month):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found
