"""Filters from a query string: periods, dimensions, and errors that name the parameter."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

import pytest

from hotline.stats.filters import FilterError, Filters, parse_filters

TODAY = date(2026, 3, 1)


def parse(**params: str) -> Filters:
    return parse_filters({k: [v] for k, v in params.items()}, today=TODAY)


def test_it_defaults_to_this_year_to_date_compared_with_the_same_days_before() -> None:
    filters = parse()
    assert (filters.first, filters.last) == (date(2026, 1, 1), TODAY)
    assert (filters.previous().first, filters.previous().last) == (date(2025, 1, 1), date(2025, 3, 1))


@pytest.mark.parametrize(("params", "first", "last"), [
    ({"year": "2024"}, date(2024, 1, 1), date(2024, 12, 31)),
    ({"year": "2024", "quarter": "1"}, date(2024, 1, 1), date(2024, 3, 31)),
    ({"year": "2024", "quarter": "4"}, date(2024, 10, 1), date(2024, 12, 31)),
    ({"from": "2024-02-29", "to": "2024-02-29"}, date(2024, 2, 29), date(2024, 2, 29)),
])
def test_it_reads_the_period(params: dict[str, str], first: date, last: date) -> None:
    filters = parse(**params)
    assert (filters.first, filters.last) == (first, last)


def test_it_compares_a_leap_day_with_the_last_day_of_february() -> None:
    previous = parse(**{"from": "2024-02-29", "to": "2024-02-29"}).previous()
    assert (previous.first, previous.last) == (date(2023, 2, 28), date(2023, 2, 28))


def test_it_reads_lists_and_repeats_and_round_trips_through_the_query_string() -> None:
    filters = parse_filters({"verdict": ["baseline,national", "baseline"], "country": ["be, nl"],
                             "provider": ["7"], "format": ["csv"]}, today=TODAY)
    assert (filters.verdict, filters.country, filters.provider) == (("baseline", "national"), ("BE", "NL"), (7,))
    again = parse_filters(parse_qs(filters.query()), today=TODAY)
    assert again == filters


@pytest.mark.parametrize(("params", "param"), [
    ({"verdict": "terrible"}, "verdict"), ({"source": "rumour"}, "source"), ({"country": "BEL"}, "country"),
    ({"provider": "-1"}, "provider"), ({"year": "1800"}, "year"), ({"quarter": "2"}, "quarter"),
    ({"year": "2024", "quarter": "5"}, "quarter"), ({"year": "2024", "from": "2024-01-01"}, "year"),
    ({"from": "2024-05-01", "to": "2024-04-01"}, "to"), ({"to": "yesterday"}, "to"), ({"site": "x"}, "site"),
    ({"age_group": "adult"}, "age_group"), ({"from": "1990-01-01", "to": "2025-01-01"}, "from"),
])
def test_it_refuses_what_it_cannot_use_naming_the_parameter(params: dict[str, str], param: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse(**params)
    assert caught.value.param == param
    assert str(caught.value).startswith(f"{param}: ")


def test_it_refuses_a_parameter_given_twice_when_it_takes_one_value() -> None:
    with pytest.raises(FilterError, match=r"^year: give it once"):
        parse_filters({"year": ["2024", "2025"]}, today=TODAY)
