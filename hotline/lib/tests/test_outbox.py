"""The outbox's one back-off policy (the claim and retry-or-fail are tested on their row types)."""

from __future__ import annotations

from datetime import timedelta

from hotline.lib.outbox import backoff


def test_it_doubles_the_wait_from_two_minutes() -> None:
    cap = timedelta(hours=6)
    assert [backoff(n, cap=cap) for n in (0, 1, 2, 3)] == [timedelta(minutes=m) for m in (2, 2, 4, 8)]


def test_it_never_waits_longer_than_the_cap() -> None:
    assert backoff(9, cap=timedelta(hours=6)) == timedelta(hours=6)
    assert backoff(10_000, cap=timedelta(hours=24)) == timedelta(hours=24)


def test_a_row_type_sets_its_own_base() -> None:
    """The exchange retries in seconds: the same doubling from a base of 30 s."""
    base, cap = timedelta(seconds=30), timedelta(hours=6)
    assert [backoff(n, base=base, cap=cap).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(40, base=base, cap=cap) == cap
