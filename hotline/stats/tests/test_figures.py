"""Every figure of the fixed history (history.py), exactly, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hotline.stats import services
from hotline.stats.filters import Filters, parse_filters
from hotline.stats.tables import Table
from hotline.stats.tests.history import NOW, History

pytestmark = pytest.mark.django_db

YEAR_2025 = Filters(first=date(2025, 1, 1), last=date(2025, 12, 31))
H, D = 3600, 86400


def table(name: str, filters: Filters = YEAR_2025) -> Table:
    (found,) = services.tables(filters, now=NOW, names=[name])
    return found


def column(found: Table, *keys: str) -> list[Any]:
    return [tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]] for row in found.rows]


def by_key(found: Table, key: str = "key") -> dict[str, dict[str, Any]]:
    return {str(row[key]): row for row in found.rows}


def test_it_counts_volumes_with_year_on_year_change(history: History) -> None:
    rows = by_key(table("headline"))
    assert {k: (r["value"], r["previous"]) for k, r in rows.items()} == {
        "reports": (13, 4), "items": (11, 4), "assessed": (10, 4), "illegal": (8, 2), "cases": (4, 1),
        "reuploads": (1, 0), "reappeared": (1, 0), "illegal_media": (0, 0)}
    assert rows["reports"]["change"] == 2.25
    assert rows["items"]["change"] == 1.75
    assert rows["cases"]["change"] == 3.0
    assert rows["reuploads"]["change"] is None  # nothing to compare with


def test_it_gives_the_share_illegal_of_assessed_items(history: History) -> None:
    assert column(table("illegal_share"), "assessed", "illegal", "share") == [(10, 8, 0.8), (4, 2, 0.5)]


def test_it_measures_times_from_the_first_report_received(history: History) -> None:
    rows = by_key(table("timings"))
    assert rows["police"] | {"step": None} == {
        "step": None, "key": "police", "n": 8, "reached": 8, "median": 32400, "p90": 311040,
        "within_24h": 0.75, "within_3d": 0.875, "within_7d": 1.0, "not_reached": 0}
    # A5 was removed before any notice: expected (it had a takedown), never noticed.
    assert rows["notice"] | {"step": None} == {
        "step": None, "key": "notice", "n": 7, "reached": 6, "median": 86400, "p90": 217800,
        "within_24h": 4 / 7, "within_3d": 5 / 7, "within_7d": 6 / 7, "not_reached": 1}
    # Measured to the first removal: A7 at 5 h (back online since: the long tail counts that), A1 20 h, A5 1 d,
    # A6 3 d (its partner's removal), A2 4 d, A3 10 d; A4 and A8 never were. Median (1 d + 3 d) / 2 = 2 d;
    # p90 between 4 d and 10 d: 4 d + 0.5 * 6 d = 7 d.
    assert rows["removal"] | {"step": None} == {
        "step": None, "key": "removal", "n": 8, "reached": 6, "median": 2 * D, "p90": 7 * D,
        "within_24h": 3 / 8, "within_3d": 4 / 8, "within_7d": 5 / 8, "not_reached": 2}


def test_it_counts_only_items_whose_outcome_at_the_mark_is_known(history: History) -> None:
    year_2026 = Filters(first=date(2026, 1, 1), last=date(2026, 3, 1))
    removal = by_key(table("timings", year_2026))["removal"]
    # N1 was reported exactly 24 h before NOW and is still online: known for 24 h, not yet for 3 days.
    assert (removal["n"], removal["reached"], removal["within_24h"], removal["within_3d"]) == (1, 0, 0.0, None)
    assert (removal["median"], removal["p90"]) == (None, None)


def test_it_finds_the_long_tail_beyond_42_days(history: History) -> None:
    assert table("long_tail").rows == [
        {"illegal": 8, "removed_late": 0, "still_online": 3, "beyond": 3, "share": 3 / 8}]
    year_2024 = Filters(first=date(2024, 1, 1), last=date(2024, 12, 31))
    assert column(table("long_tail", year_2024), "removed_late", "still_online") == [(1, 0)]


def test_it_places_items_by_their_latest_located_trace(history: History) -> None:
    assert column(table("countries"), "key", "items", "share") == [("BE", 6, 0.75), ("NL", 1, 0.125),
                                                                  ("US", 1, 0.125)]


def test_it_breaks_items_down_by_verdict_content_age_site_and_source(history: History) -> None:
    def counts(name: str) -> dict[str, int]:
        return {str(row["key"]): row["items"] for row in table(name).rows}

    assert counts("verdicts") == {"baseline": 6, "national": 2, "not_illegal": 2, "": 1}
    assert counts("content_types") == {"image": 5, "video": 2, "drawing": 1}
    assert counts("age_groups") == {"infant_toddler": 1, "prepubescent": 3, "pubescent": 3, "not_determined": 1}
    assert counts("site_types") == {"image_host": 3, "image_board": 1, "file_host": 1, "forum": 2, "website": 1}
    assert counts("sources") == {"public": 10, "partner": 1, "police": 1, "csv": 1}


def test_it_counts_per_month(history: History) -> None:
    rows = by_key(table("monthly"), "month")
    assert list(rows) == [f"2025-{m:02d}" for m in range(1, 13)]
    assert column(table("monthly"), "reports", "items", "illegal")[:3] == [(2, 1, 1), (2, 1, 1), (1, 1, 1)]
    assert (rows["2025-11"]["items"], rows["2025-12"]["illegal"], rows["2025-12"]["items"]) == (0, 0, 1)


def test_it_scores_providers_from_our_first_notice(history: History) -> None:
    rows = {str(row["provider"]): row for row in table("providers").rows}
    assert list(rows) == ["Quick Host", "Silent Host", "Slow Host"]
    # From our notice: A7 removed 3 h later (back online since, so beyond 42 days), A1 15 h, A2 2 d, A6 2 d
    # (removed by the partner abroad); median (15 h + 2 d) / 2, p90 2 d.
    assert rows["Quick Host"] == {
        "provider": "Quick Host", "noticed": 4, "acknowledged": 1, "ack_median": H, "removed": 4,
        "removal_median": (15 * H + 2 * D) // 2, "removal_p90": 2 * D, "within_24h": 0.5, "beyond_42d": 1,
        "reappearances": 1}
    assert (rows["Slow Host"]["removed"], rows["Slow Host"]["removal_median"], rows["Slow Host"]["within_24h"]) == (
        1, 6 * D + 23 * H, 0.0)
    assert (rows["Silent Host"]["removed"], rows["Silent Host"]["beyond_42d"]) == (0, 1)


def test_it_scores_companies_on_information_requests(history: History) -> None:
    rows = {row["company"]: row for row in table("companies").rows}
    assert rows["Big Social"] == {
        "company": "Big Social", "requests": 4, "overdue": 1, "open": 1, "answered": 1, "partial": 0,
        "refused": 1, "no_answer": 1, "answer_median": int(1.5 * D), "replied": 2}
    assert (rows["Small Chat"]["requests"], rows["Small Chat"]["answer_median"]) == (1, 4 * D)


def test_it_gives_the_dismissal_rate_per_year_by_the_last_decision(history: History) -> None:
    assert column(table("dismissals"), "year", "decided", "dismissed", "rate") == [
        ("2021", 0, 0, None), ("2022", 0, 0, None), ("2023", 0, 0, None), ("2024", 1, 1, 1.0),
        ("2025", 5, 2, 0.4)]


def test_it_counts_analyst_workload_and_viewing_exposure(history: History) -> None:
    rows = {row["analyst"]: row for row in table("workload").rows}
    assert rows["ana"] == {"analyst": "ana", "initial": 9, "reviews": 0, "disagreements": 0, "seconds": 10800,
                           "days": 2, "max_day": 7200, "over": 1, "reveals": 2}
    assert (rows["bert"]["initial"], rows["bert"]["seconds"]) == (1, 600)
    assert (rows["sara"]["reviews"], rows["sara"]["disagreements"], rows["sara"]["seconds"]) == (1, 1, 0)


def test_it_applies_item_filters_to_every_item_figure(history: History) -> None:
    national = parse_filters({"year": ["2025"], "verdict": ["national"]}, today=NOW.date())
    rows = by_key(table("headline", national))
    assert (rows["reports"]["value"], rows["items"]["value"], rows["cases"]["value"]) == (2, 2, 2)
    assert column(table("dismissals", national), "decided", "dismissed")[-1] == (2, 1)
    at_home = parse_filters({"year": ["2025"], "country": ["be"]}, today=NOW.date())
    assert by_key(table("headline", at_home))["items"]["value"] == 6
    quick = parse_filters({"year": ["2025"], "provider": [str(history.providers["P1"].pk)]}, today=NOW.date())
    assert by_key(table("headline", quick))["items"]["value"] == 3  # A6 moved on to a Dutch host
    by_partner = parse_filters({"year": ["2025"], "source": ["partner"]}, today=NOW.date())
    rows = by_key(table("headline", by_partner))
    assert (rows["reports"]["value"], rows["items"]["value"]) == (1, 0)  # A1 was first reported by the public


def test_it_gives_every_table_on_request(history: History) -> None:
    assert [t.name for t in services.tables(YEAR_2025, now=NOW)] == list(services.TABLE_NAMES)
