from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from hotline.lib.pools import kept_map, kept_pool


def test_a_kept_pool_is_the_same_for_its_name_and_size_and_keeps_its_threads() -> None:
    pool = kept_pool("test-kept", 2)
    assert kept_pool("test-kept", 2) is pool
    assert kept_pool("test-other", 2) is not pool and kept_pool("test-kept", 3) is not pool
    ran: set[threading.Thread] = set()
    for _ in range(20):
        list(pool.map(lambda _n: ran.add(threading.current_thread()), range(4)))
    assert 1 <= len(ran) <= 2 and all(thread.is_alive() for thread in ran)  # at most two threads, still there
    assert threading.current_thread() not in ran


class _Clocks:
    """A clock per thread that only the work moves (``take``): exact timings, whatever the scheduling."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __call__(self) -> float:
        return float(getattr(self.local, "now", 0.0))

    def take(self, seconds: float) -> None:
        self.local.now = self() + seconds


def _work(clocks: _Clocks, ran: list[tuple[int, threading.Thread]]) -> Callable[[tuple[int, float]], int]:
    def work(item: tuple[int, float]) -> int:
        n, seconds = item
        clocks.take(seconds)
        ran.append((n, threading.current_thread()))
        return n * 10

    return work


def test_kept_map_runs_a_quick_batch_in_the_calling_thread() -> None:
    clocks, ran = _Clocks(), list[tuple[int, threading.Thread]]()
    items = [(n, 0.01) for n in range(8)]
    assert kept_map(_work(clocks, ran), items, name="test-map-quick", workers=4, in_caller_for=0.25,
                    clock=clocks) == [n * 10 for n in range(8)]
    assert [n for n, _ in ran] == list(range(8)) and {t for _, t in ran} == {threading.current_thread()}


def test_kept_map_hands_the_rest_of_a_slow_batch_to_the_pool_and_then_starts_there() -> None:
    clocks, ran = _Clocks(), list[tuple[int, threading.Thread]]()
    work, me = _work(clocks, ran), threading.current_thread()
    slow = [(n, 0.2) for n in range(6)]
    # the first two fit in 0.25 s at their pace? 0.2 + 0.2 * 5 > 0.25: only the first runs here
    assert kept_map(work, slow, name="test-map-slow", workers=3, in_caller_for=0.25, clock=clocks) == [
        n * 10 for n in range(6)]
    assert ran[0] == (0, me) and all(t is not me for _, t in ran[1:]) and sorted(n for n, _ in ran) == list(range(6))
    ran.clear()  # the pace is known now: a batch like it goes to the threads at once
    assert kept_map(work, [(n, 0.2) for n in range(3)], name="test-map-slow", workers=3, in_caller_for=0.25,
                    clock=clocks) == [0, 10, 20]
    assert all(t is not me for _, t in ran)
    ran.clear()  # quick answers bring the pace down, and the batches back to the calling thread
    for _ in range(20):
        kept_map(work, [(n, 0.001) for n in range(3)], name="test-map-slow", workers=3, in_caller_for=0.25,
                 clock=clocks)
    ran.clear()
    kept_map(work, [(n, 0.001) for n in range(3)], name="test-map-slow", workers=3, in_caller_for=0.25, clock=clocks)
    assert {t for _, t in ran} == {me}


def test_kept_map_with_no_time_in_the_caller_uses_the_pool_and_one_item_stays_in_the_caller() -> None:
    clocks, ran = _Clocks(), list[tuple[int, threading.Thread]]()
    work, me = _work(clocks, ran), threading.current_thread()
    assert kept_map(work, [(n, 0.0) for n in range(5)], name="test-map-pool", workers=2, in_caller_for=0,
                    clock=clocks) == [0, 10, 20, 30, 40]
    assert me not in {t for _, t in ran} and len({t for _, t in ran}) <= 2
    ran.clear()
    assert kept_map(work, [(7, 5.0)], name="test-map-pool", workers=2, in_caller_for=0, clock=clocks) == [70]
    assert ran == [(7, me)]


def test_kept_map_raises_what_the_work_raises() -> None:
    def work(n: int) -> int:
        if n == 2:
            raise ValueError("two")
        return n

    for in_caller_for in (0.0, 60.0):
        with pytest.raises(ValueError, match="two"):
            kept_map(work, [1, 2, 3], name="test-map-raise", workers=2, in_caller_for=in_caller_for)
