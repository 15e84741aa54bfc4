"""``python -m hotline.lib.pgcheck URL``: exit 0 when PostgreSQL answers at URL (used by make)."""

from __future__ import annotations

import sys

import psycopg


def reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


if __name__ == "__main__":
    sys.exit(0 if len(sys.argv) == 2 and reachable(sys.argv[1]) else 1)
