from __future__ import annotations

import threading

from hotline.lib.pools import kept_pool


def test_a_kept_pool_is_the_same_for_its_name_and_size_and_keeps_its_threads() -> None:
    pool = kept_pool("test-kept", 2)
    assert kept_pool("test-kept", 2) is pool
    assert kept_pool("test-other", 2) is not pool and kept_pool("test-kept", 3) is not pool
    ran: set[threading.Thread] = set()
    for _ in range(20):
        list(pool.map(lambda _n: ran.add(threading.current_thread()), range(4)))
    assert 1 <= len(ran) <= 2 and all(thread.is_alive() for thread in ran)  # at most two threads, still there
    assert threading.current_thread() not in ran
