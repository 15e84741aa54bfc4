"""Percentiles with one definition on both databases: linear interpolation between the closest ranks.

PostgreSQL computes them in SQL (``percentile_cont``); SQLite has no such aggregate, so the same formula
runs in Python over one sorted column. Both give the same float (same IEEE arithmetic, same order of
operations as PostgreSQL's ``float8_lerp``), which callers round to whole seconds.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from itertools import groupby
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import Aggregate, FloatField, QuerySet

QUANTILES = (0.5, 0.9)


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(ARRAY[p, ...]) WITHIN GROUP (ORDER BY expr)``: one sort, a list of
    results in the order of ``fractions`` (constants of ours, never input)."""

    function = "percentile_cont"
    name = "PercentileCont"
    template = "%(function)s(ARRAY[%(fractions)s]::float8[]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: str, fractions: Sequence[float] = QUANTILES, **extra: Any) -> None:
        if not fractions or not all(0.0 <= f <= 1.0 for f in fractions):
            raise ValueError("fractions must be between 0 and 1")
        super().__init__(expression, fractions=", ".join(repr(float(f)) for f in fractions),
                         output_field=ArrayField(FloatField()), **extra)


def percentile_cont(ordered: Sequence[int | float], fraction: float) -> float | None:
    """The interpolated percentile of an ascending sequence (None when empty)."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    first, second = float(ordered[low]), float(ordered[high])
    return first + (second - first) * (position - low)


def in_sql() -> bool:
    return connection.vendor == "postgresql"


def percentiles(qs: QuerySet[Any], column: str, fractions: Sequence[float] = QUANTILES) -> list[float | None]:
    """Percentiles of the non-null values of ``column`` over ``qs``."""
    found = grouped_percentiles(qs, column, None, fractions)
    return found.get(None, [None] * len(fractions))


def grouped_percentiles(qs: QuerySet[Any], column: str, group: str | None,
                        fractions: Sequence[float] = QUANTILES) -> dict[Hashable, list[float | None]]:
    """Percentiles of ``column`` per value of ``group`` (None: one group, keyed None)."""
    rows = qs.filter(**{f"{column}__isnull": False}).order_by()
    if in_sql():
        if group is None:
            single: list[float | None] | None = rows.aggregate(found=PercentileCont(column, fractions))["found"]
            return {None: single or [None] * len(fractions)}
        grouped = rows.values(group).annotate(found=PercentileCont(column, fractions))
        return {row[group]: list(row["found"]) for row in grouped}
    if group is None:
        ordered = list(rows.order_by(column).values_list(column, flat=True))
        return {None: [percentile_cont(ordered, f) for f in fractions]} if ordered else {}
    found: dict[Hashable, list[float | None]] = {}
    pairs = rows.order_by(group, column).values_list(group, column)
    for key, members in groupby(pairs.iterator(chunk_size=10000), key=lambda pair: pair[0]):
        ordered = [value for _, value in members]
        found[key] = [percentile_cont(ordered, f) for f in fractions]
    return found


def whole(value: float | None) -> int | None:
    """Round a percentile to whole seconds (the published precision)."""
    return None if value is None else round(value)
