"""Suppression of small cells, formatting and the CSV export of tables."""

from __future__ import annotations

import csv
import io

from hotline.stats.percentiles import percentile_cont
from hotline.stats.tables import COUNT, SECONDS, SHARE, TEXT, Column, Suppressed, Table, as_csv, duration, suppress


def distribution(*counts: int) -> Table:
    total = sum(counts)
    return Table("t", "T", [Column("label", "Label", TEXT), Column("n", "Count", COUNT),
                            Column("share", "Share", SHARE, basis=("n",))],
                 [{"label": f"r{i}", "n": n, "share": n / total} for i, n in enumerate(counts)])


def cells(table: Table) -> list[str]:
    return [str(row["n"]) for row in table.rows]


def test_it_hides_counts_below_the_minimum_but_not_zero() -> None:
    assert cells(suppress(distribution(40, 3, 2, 0), 5)) == ["40", "<5", "<5", "0"]


def test_it_hides_a_second_cell_when_one_could_be_worked_back_from_the_total() -> None:
    hidden = suppress(distribution(40, 9, 3), 5)
    assert cells(hidden) == ["40", "*", "<5"]
    assert [str(row["share"]) for row in hidden.rows][1:] == ["*", "*"]
    assert hidden.rows[0]["share"] == 40 / 52


def test_it_changes_nothing_when_the_minimum_is_one() -> None:
    assert cells(suppress(distribution(1, 2), 1)) == ["1", "2"]


def test_it_writes_machine_values_to_csv() -> None:
    table = Table("t", "T", [Column("name", "Name", TEXT), Column("secs", "Time", SECONDS)],
                  [{"name": "@sum(A1)", "secs": 90}, {"name": "plain", "secs": None},
                   {"name": "hidden", "secs": Suppressed(5)}])
    rows = list(csv.reader(io.StringIO(as_csv([table]))))
    assert rows == [["name", "secs"], ["'@sum(A1)", "90"], ["plain", ""], ["hidden", "<5"]]


def test_it_formats_durations_as_days_hours_and_minutes() -> None:
    assert [duration(s) for s in (None, 59, 3600 * 5 + 60 * 7, 86400 * 3 + 3600)] == ["-", "00:00", "05:07",
                                                                                        "3 d 01:00"]


def test_it_interpolates_percentiles_between_ranks() -> None:
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([7], 0.9) == 7.0
    assert percentile_cont([1, 2, 3, 4], 0.5) == 2.5
    assert percentile_cont([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9) == 91.0
