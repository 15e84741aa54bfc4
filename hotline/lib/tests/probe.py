"""The rate-limit probe of issue 19: parallel clients from one address over simulated hours.

Each simulated hour has request rounds at fixed minutes, with idle gaps longer than 5 minutes between
them; in each round ``clients`` threads (each its own test Client and database connection) send
``attempts`` requests together. Used by the view tests and by ``bench/ratelimit_probe.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import time_machine
from django.db import connection
from django.test import Client

T = TypeVar("T")
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ROUNDS = (0, 7, 20, 41, 59)  # minutes past the hour


def in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    """``work(i)`` on ``count`` threads released together, each on its own database connection."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T:
        try:
            barrier.wait(timeout=60)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def accepted_per_hour(send: Callable[[Client, int], int], *, address: str, clients: int, attempts: int,
                      hours: int = 2, start: datetime = START) -> list[int]:
    """Answers other than 429 per simulated hour; ``send(client, n)`` makes request ``n`` and returns its status."""
    accepted = []
    with time_machine.travel(start, tick=False) as clock:
        for hour in range(hours):
            total = 0
            for minute in ROUNDS:
                clock.move_to(start + timedelta(hours=hour, minutes=minute))

                def one_client(i: int, base: int = hour * 100_000 + minute * 1000) -> int:
                    client = Client(REMOTE_ADDR=address)
                    return sum(send(client, base + i * attempts + n) != 429 for n in range(attempts))

                total += sum(in_parallel(clients, one_client))
            accepted.append(total)
    return accepted
