"""Case outcomes (dismissal rate per year) and the analysts' workload and viewing exposure (managers only)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q, Sum
from django.utils.translation import gettext_lazy as _

from hotline.accounts.models import User
from hotline.assessment.models import Assessment, Kind
from hotline.cases.codes import OutcomeCode
from hotline.cases.models import CaseItem, Outcome
from hotline.evidence.models import Exposure
from hotline.stats.filters import Filters
from hotline.stats.tables import COUNT, SECONDS, SHARE, TEXT, Column, Table

# A prosecutor's decision on a case: dismissed, or taken to court (a verdict implies prosecution).
DECISIVE = (OutcomeCode.DISMISSED, OutcomeCode.PROSECUTED, OutcomeCode.CONVICTED, OutcomeCode.ACQUITTED)
YEARS_SHOWN = 5


def dismissal_years(filters: Filters) -> list[int]:
    return list(range(filters.last.year - YEARS_SHOWN + 1, filters.last.year + 1))


def dismissals(filters: Filters) -> Table:
    """Per year: cases whose latest decisive outcome that year was a dismissal, of all cases decided that year."""
    years = dismissal_years(filters)
    outcomes = Outcome.objects.filter(code__in=DECISIVE, decided_on__gte=date(years[0], 1, 1),
                                      decided_on__lte=date(years[-1], 12, 31))
    if filters.has_item_filters:
        outcomes = outcomes.filter(Exists(CaseItem.objects.filter(filters.fact_q("item__stats_fact__"),
                                                                  case=OuterRef("case_id"))))
    latest: dict[tuple[int, int], str] = {}
    ordered = outcomes.order_by("decided_on", "recorded_at", "pk").values_list("case_id", "decided_on", "code")
    for case_id, decided_on, code in ordered:
        latest[(case_id, decided_on.year)] = code  # ordered: the year's last decision wins
    decided: Counter[int] = Counter(year for _, year in latest)
    dismissed: Counter[int] = Counter(year for (_, year), code in latest.items() if code == OutcomeCode.DISMISSED)
    return Table("dismissals", _("Dismissal rate of referred cases"), [
        Column("year", _("Year"), TEXT), Column("decided", _("Cases decided")), Column("dismissed", _("Dismissed")),
        Column("rate", _("Dismissal rate"), SHARE, basis=("decided", "dismissed")),
    ], [{"year": str(year), "decided": decided[year], "dismissed": dismissed[year],
         "rate": dismissed[year] / decided[year] if decided[year] else None} for year in years],
        note=_("By the date of the decision; a case decided twice in a year counts once, by its last decision."))


def workload(filters: Filters) -> Table:
    """Per analyst: assessments and reviews made, and media viewing time in the period (whole days)."""
    made = Assessment.objects.filter(created_at__gte=filters.start, created_at__lt=filters.end,
                                     analyst__isnull=False).values("analyst_id").annotate(
        initial=Count("pk", filter=Q(kind=Kind.INITIAL)), reviews=Count("pk", filter=Q(kind=Kind.REVIEW)),
        disagreements=Count("pk", filter=Q(kind=Kind.REVIEW, disagrees=True)))
    budget = settings.HOTLINE_VIEWING_BUDGET_MINUTES * 60
    viewed = Exposure.objects.filter(day__gte=filters.first, day__lte=filters.last).values("user_id").annotate(
        viewing=Sum("seconds"), days=Count("pk", filter=Q(seconds__gt=0)), max_day=Max("seconds"),
        over=Count("pk", filter=Q(seconds__gte=budget)), revealed=Sum("reveals"))
    rows: dict[int, dict[str, Any]] = {}
    empty = {"initial": 0, "reviews": 0, "disagreements": 0, "seconds": 0, "days": 0, "max_day": 0, "over": 0,
             "reveals": 0}
    for row in made:
        rows.setdefault(row.pop("analyst_id"), dict(empty)).update(row)
    for row in viewed:
        rows.setdefault(row["user_id"], dict(empty)).update(
            seconds=row["viewing"], days=row["days"], max_day=row["max_day"], over=row["over"], reveals=row["revealed"])
    names = dict(User.objects.filter(pk__in=rows).values_list("pk", "username"))
    listed = [{"analyst": names.get(pk, str(pk)), **row} for pk, row in rows.items()]
    return Table("workload", _("Analyst workload and viewing exposure"), [
        Column("analyst", _("Analyst"), TEXT), Column("initial", _("Assessments"), COUNT),
        Column("reviews", _("Second reviews")), Column("disagreements", _("Reviews that disagreed")),
        Column("seconds", _("Viewing time"), SECONDS), Column("days", _("Days with viewing")),
        Column("max_day", _("Longest day"), SECONDS), Column("over", _("Days at or over the budget")),
        Column("reveals", _("Reveals")),
    ], sorted(listed, key=lambda r: r["analyst"]),
        note=_("For managers only; never exported into the annual report. Item filters do not apply."))
