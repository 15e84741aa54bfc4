"""The outbox's one back-off policy."""

from __future__ import annotations

from datetime import timedelta

from hotline.lib.outbox import backoff


def test_it_doubles_the_wait_from_two_minutes() -> None:
    cap = timedelta(hours=6)
    assert [backoff(n, cap=cap) for n in (0, 1, 2, 3)] == [timedelta(minutes=m) for m in (2, 2, 4, 8)]


def test_it_never_waits_longer_than_the_cap() -> None:
    assert backoff(9, cap=timedelta(hours=6)) == timedelta(hours=6)
    assert backoff(10_000, cap=timedelta(hours=24)) == timedelta(hours=24)
