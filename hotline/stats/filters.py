"""The period and filters of a statistics view, parsed from a query string (so a view can be shared).

Errors name the parameter: ``verdict: unknown value 'x' (choose from baseline, ...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Q

from hotline.assessment.codes import AgeGroup, ContentType, SiteType, Verdict
from hotline.reports.models import Source

# Parameters that are not filters but may ride along in the same query string.
PASSIVE = frozenset({"format", "table", "lang"})
_COUNTRY = re.compile(r"^[A-Z]{2}$")
CHOICES: dict[str, list[str]] = {
    "source": list(Source.values),
    "verdict": list(Verdict.values),
    "content_type": list(ContentType.values),
    "age_group": list(AgeGroup.values),
    "site_type": list(SiteType.values),
}
# Query-string parameter -> ItemFact field.
FACT_FIELDS = {"source": "source", "verdict": "verdict", "content_type": "content_type", "age_group": "age_group",
               "site_type": "site_type", "country": "country", "provider": "provider_id"}
KNOWN = frozenset({"year", "quarter", "from", "to", *FACT_FIELDS})


class FilterError(ValueError):
    """A query-string parameter that cannot be used; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, message


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def shift_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Filters:
    """Items reported in [``first``, ``last``] (whole UTC days) that match every non-empty dimension."""

    first: date
    last: date
    source: tuple[str, ...] = ()
    verdict: tuple[str, ...] = ()
    content_type: tuple[str, ...] = ()
    age_group: tuple[str, ...] = ()
    site_type: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    provider: tuple[int, ...] = ()
    label: str = field(default="", compare=False)

    @property
    def start(self) -> datetime:
        return _midnight(self.first)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after the last day."""
        return _midnight(self.last + timedelta(days=1))

    def previous(self) -> Filters:
        """The same days one year earlier, with the same dimensions (year-on-year change)."""
        return replace(self, first=shift_years(self.first, -1), last=shift_years(self.last, -1), label="")

    def dimensions(self) -> dict[str, tuple[str, ...] | tuple[int, ...]]:
        return {name: getattr(self, name) for name in FACT_FIELDS if getattr(self, name)}

    @property
    def has_item_filters(self) -> bool:
        return bool(self.dimensions())

    def fact_q(self, prefix: str = "", skip: tuple[str, ...] = ()) -> Q:
        """The dimension filters as a Q on ItemFact (``prefix`` to reach it through a relation)."""
        q = Q()
        for name, values in self.dimensions().items():
            if name not in skip:
                q &= Q(**{f"{prefix}{FACT_FIELDS[name]}__in": values})
        return q

    def query(self, **extra: str) -> str:
        """The query string that reproduces these filters (plus ``extra``)."""
        pairs: list[tuple[str, str]] = [("from", self.first.isoformat()), ("to", self.last.isoformat())]
        pairs += [(name, ",".join(str(v) for v in values)) for name, values in self.dimensions().items()]
        pairs += list(extra.items())
        return urlencode(pairs)

    def as_dict(self) -> dict[str, object]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(),
                **{name: list(values) for name, values in self.dimensions().items()}}


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = [v.strip() for v in params.get(name, []) if v.strip()]
    if len(values) > 1:
        raise FilterError(name, "give it once")
    return values[0] if values else None


def _list(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    return [part.strip() for value in params.get(name, []) for part in value.split(",") if part.strip()]


def _date(params: Mapping[str, Sequence[str]], name: str) -> date | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FilterError(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _int(raw: str, name: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise FilterError(name, f"{raw!r} is not a whole number from {low} to {high}")
    return int(raw)


def _period(params: Mapping[str, Sequence[str]], today: date) -> tuple[date, date, str]:
    year, quarter = _one(params, "year"), _one(params, "quarter")
    first, last = _date(params, "from"), _date(params, "to")
    if year is not None and (first or last):
        raise FilterError("year", "give either year (and quarter) or from/to, not both")
    if quarter is not None and year is None:
        raise FilterError("quarter", "needs a year")
    if year is not None:
        y = _int(year, "year", 1990, 2200)
        if quarter is None:
            return date(y, 1, 1), date(y, 12, 31), str(y)
        q = _int(quarter, "quarter", 1, 4)
        return date(y, 3 * q - 2, 1), date(y + q // 4, 3 * q % 12 + 1, 1) - timedelta(days=1), f"{y} Q{q}"
    first = first or date(today.year, 1, 1)
    last = last or today
    if last < first:
        raise FilterError("to", f"{last.isoformat()} is before from ({first.isoformat()})")
    if (last - first).days > 366 * 20:
        raise FilterError("from", "a period of at most 20 years")
    return first, last, ""


def _choices(params: Mapping[str, Sequence[str]], name: str) -> tuple[str, ...]:
    values = _list(params, name)
    for value in values:
        if value not in CHOICES[name]:
            raise FilterError(name, f"unknown value {value!r} (choose from {', '.join(CHOICES[name])})")
    return tuple(dict.fromkeys(values))


def _countries(params: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    values = [v.upper() for v in _list(params, "country")]
    for value in values:
        if not _COUNTRY.match(value):
            raise FilterError("country", f"{value!r} is not a two-letter country code")
    return tuple(dict.fromkeys(values))


def _providers(params: Mapping[str, Sequence[str]]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(_int(v, "provider", 1, 2**63 - 1) for v in _list(params, "provider")))


def parse_filters(params: Mapping[str, Sequence[str]], *, today: date) -> Filters:
    """Filters from query parameters (each a list of values, as ``QueryDict.lists()`` gives them).

    Period: ``year`` [+ ``quarter``], or ``from``/``to`` (inclusive dates, UTC); default this year to date.
    Dimensions (comma-separated lists): source, verdict, content_type, age_group, site_type, country, provider.
    """
    unknown = sorted(set(params) - KNOWN - PASSIVE)
    if unknown:
        raise FilterError(unknown[0], f"unknown parameter (known: {', '.join(sorted(KNOWN))})")
    first, last, label = _period(params, today)
    return Filters(first=first, last=last, label=label, country=_countries(params), provider=_providers(params),
                   **{name: _choices(params, name) for name in CHOICES})
