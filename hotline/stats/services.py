"""Statistics: every table of the dashboard, the exports and the annual report, by name.

Figures come from ``ItemFact`` rows (refreshed from the other domains' stamps by ``facts``) and from the
case, information-request, assessment and exposure rows directly. Definitions: docs/statistics.md.

Call ``tables(filters, now=...)`` for all of them, or ``tables(filters, now=..., names=[...])`` for some.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Min

from hotline.audit.services import Actor, record
from hotline.stats import actions, casework, figures, responsiveness, synthetic
from hotline.stats.figures import Scope
from hotline.stats.filters import Filters
from hotline.stats.models import ItemFact
from hotline.stats.tables import Table

Builder = Callable[[Scope], list[Table]]

# Builder name -> (the tables it makes, in order; the function). Listed in dashboard order.
BUILDERS: dict[str, tuple[tuple[str, ...], Builder]] = {
    "headline": (("headline", "illegal_share"), lambda s: list(figures.headline(s))),
    "monthly": (("monthly",), lambda s: [figures.monthly(s)]),
    "timings": (("timings",), lambda s: [figures.timings(s)]),
    "long_tail": (("long_tail",), lambda s: [figures.long_tail(s)]),
    "countries": (("countries",), lambda s: [figures.countries(s)]),
    "breakdowns": (("verdicts", "content_types", "age_groups", "site_types", "sources", "report_kinds"),
                   figures.breakdowns),
    "ai_media": (("ai_media",), lambda s: [synthetic.ai_media(s)]),
    "providers": (("providers",), lambda s: [responsiveness.providers(s.filters, s.now)]),
    "companies": (("companies",), lambda s: [responsiveness.companies(s.filters, s.now)]),
    "dismissals": (("dismissals",), lambda s: [casework.dismissals(s.filters)]),
    "workload": (("workload",), lambda s: [casework.workload(s.filters)]),
}
TABLE_NAMES: tuple[str, ...] = tuple(name for names, _ in BUILDERS.values() for name in names)
# Tables about named people: on the manager's dashboard only, never in a report that leaves the hotline.
STAFF_TABLES = frozenset({"workload"})
# Tables naming companies: on the dashboard and its exports, not in the published annual report.
COMPANY_TABLES = frozenset({"providers", "companies"})


class UnknownTable(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"table: unknown value {name!r} (choose from {', '.join(TABLE_NAMES)})")
        self.param = "table"


def tables(filters: Filters, *, now: datetime, names: Iterable[str] | None = None) -> list[Table]:
    """The named tables (all when ``names`` is None), in dashboard order."""
    wanted = list(TABLE_NAMES if names is None else names)
    for name in wanted:
        if name not in TABLE_NAMES:
            raise UnknownTable(name)
    scope, found = Scope(filters, now), []
    for made, build in BUILDERS.values():
        if set(made) & set(wanted):
            found += [table for table in build(scope) if table.name in wanted]
    return found


def request_annual_report(year: int, language: str, *, actor: Actor, now: datetime) -> str:
    """Start making the annual report of ``year`` in ``language`` as a one-off job; returns the job's id.
    The request is audited (who asked for which edition); the job itself writes nothing but the files."""
    from hotline.stats import annual, tasks  # tasks imports annual, which imports this module

    if language not in annual.LANGUAGES:
        raise ValueError(f"language: unknown value {language!r} (choose from {', '.join(annual.LANGUAGES)})")
    if not 1990 <= year <= now.year:
        raise ValueError(f"year: {year} is not a year from 1990 to {now.year}")
    with transaction.atomic():
        job = tasks.make_annual_report.enqueue(year, language)
        record(actor, actions.ANNUAL_REPORT_REQUESTED, ("stats.annual_report", f"{year}-{language}"), now=now,
               after={"year": year, "language": language, "job": str(job.id)})
    return str(job.id)


def facts_as_of() -> tuple[datetime | None, int]:
    """The oldest refresh time of any fact, and how many facts there are (shown next to the figures)."""
    values = ItemFact.objects.aggregate(oldest=Min("refreshed_at"))
    return values["oldest"], ItemFact.objects.count()
