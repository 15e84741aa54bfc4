"""Concurrent audit writers for the PostgreSQL tests: each on its own thread and connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections

from hotline.audit.services import _create_heads


def run_writers(write: Callable[[int], None], writers: int) -> None:
    """Run ``write(n)`` for n in 0..writers-1, each on its own thread (and database connection), after the stream
    heads exist (as the migration makes them: created inside a writer, the others would wait for its commit).
    Raises the first error a writer met, once all have ended."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            write(n)
        except BaseException as exc:  # pragma: no cover - raised below
            errors.append(exc)
        finally:
            connections.close_all()

    _create_heads()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
