"""Fixed-window rate limits with an exact counter per (scope, key, window), shared by every process.

A hit is one atomic statement that counts and returns the new total: an upsert on the
``hotline_ratelimit`` table (model ``core.RateCounter``), or INCR + EXPIRE in one Lua call on Redis
when ``HOTLINE_RATELIMIT_REDIS_URL`` is set. No read-modify-write in Python, so N parallel clients
get exactly the budget.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import HttpRequest

log = logging.getLogger("hotline.ratelimit")

TABLE = "hotline_ratelimit"  # spelled out in the SQL below
# Rows this long past their window are purged; the slack covers web processes whose clocks lag a little.
PURGE_SLACK_SECONDS = 60
PURGE_BATCH = 5000
REDIS_SCHEMES = ("redis", "rediss", "unix")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# One statement: insert the window's first hit or add one to it, and return the total. Atomic on
# PostgreSQL (the unique index serialises the conflict) and on SQLite (>= 3.35 for RETURNING).
_UPSERT = (
    "INSERT INTO hotline_ratelimit (scope, digest, window_start, expires_at, hits) VALUES (%s, %s, %s, %s, 1) "
    "ON CONFLICT (scope, digest, window_start) DO UPDATE SET hits = hotline_ratelimit.hits + 1 RETURNING hits"
)
# Needs the index ratelimit_expires_idx (expires_at).
_PURGE = ("DELETE FROM hotline_ratelimit WHERE id IN "
          "(SELECT id FROM hotline_ratelimit WHERE expires_at < %s ORDER BY expires_at LIMIT %s)")
_REDIS_HIT = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return hits
"""


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/h"`` -> ``(10, 3600)``; raises ValueError naming the bad rate."""
    count, _, unit = rate.partition("/")
    if not count.isdigit() or unit not in _UNITS or int(count) < 1:
        raise ValueError(f"rate {rate!r} must look like '10/h' (units: s, m, h, d)")
    return int(count), _UNITS[unit]


def check_redis_url(url: str) -> None:
    """Raises ValueError saying what is wrong with a Redis URL (or that the redis package is missing)."""
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        raise ValueError(f"must start with {', '.join(s + '://' for s in REDIS_SCHEMES)}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("names no host")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError("names no socket path")
    _ = parts.port  # raises ValueError on a bad port
    database = parts.path.strip("/") if parts.scheme != "unix" else ""
    if database and not database.isdigit():
        raise ValueError(f"database {database!r} is not a number")
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        raise ValueError("needs the redis package (pip install redis)") from exc


def allow(scope: str, key: str, rate: str, *, now: float | None = None) -> bool:
    """Count one hit for ``key`` in ``scope``; False once the window's budget is spent."""
    limit, window = parse_rate(rate)
    moment = now if now is not None else time.time()
    start = int(moment // window) * window
    digest = _digest(scope, key)
    url: str = getattr(settings, "HOTLINE_RATELIMIT_REDIS_URL", "")
    if url:
        hits = _redis_hit(url, f"hotline:rl:{scope}:{digest}:{start}", ttl=start + window - int(moment) + 60)
        if hits is not None:
            return hits <= limit
    return _database_hit(scope, digest, start, start + window) <= limit


def _digest(scope: str, key: str) -> str:
    """Keyed, so the table holds no reversible client address (the IPv4 space is small enough to hash)."""
    secret = hashlib.sha256(b"hotline-ratelimit:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(secret, f"{scope}\x00{key}".encode(), hashlib.sha256).hexdigest()[:32]


def _database_hit(scope: str, digest: str, start: int, expires: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [scope[:64], digest, start, expires])
        rows = cursor.fetchall()
    return int(rows[0][0])


@functools.lru_cache(maxsize=4)
def _redis_script(url: str) -> Any:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    return client.register_script(_REDIS_HIT)


def _redis_hit(url: str, name: str, *, ttl: int) -> int | None:
    """The new total from Redis, or None when Redis fails (the database counter then takes over)."""
    import redis

    try:
        return int(_redis_script(url)(keys=[name], args=[ttl]))
    except redis.RedisError as exc:
        log.warning("rate limit: Redis failed (%s); counting in the database instead", type(exc).__name__)
        return None


def purge_expired(*, now: datetime) -> bool:
    """Delete one batch of counters whose window ended (the worker's ``steps.ratelimit_purge_step``).
    Returns whether it deleted any."""
    cutoff = int(now.timestamp()) - PURGE_SLACK_SECONDS
    with connection.cursor() as cursor:
        cursor.execute(_PURGE, [cutoff, PURGE_BATCH])
        deleted: int = cursor.rowcount
    return deleted > 0


def client_ip(request: HttpRequest) -> str:
    """The client's address; trusts X-Forwarded-For only as far as the configured proxy count."""
    proxies: int = settings.HOTLINE_TRUSTED_PROXY_COUNT
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    return hops[-proxies] if len(hops) >= proxies else remote
