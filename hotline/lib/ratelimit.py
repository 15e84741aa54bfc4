"""Fixed-window rate limits kept in the shared cache, so they hold across processes."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/h"`` -> ``(10, 3600)``; raises ValueError naming the bad rate."""
    count, _, unit = rate.partition("/")
    if not count.isdigit() or unit not in _UNITS or int(count) < 1:
        raise ValueError(f"rate {rate!r} must look like '10/h' (units: s, m, h, d)")
    return int(count), _UNITS[unit]


def allow(scope: str, key: str, rate: str, *, now: float | None = None) -> bool:
    """Count one hit for ``key`` in ``scope``; False once the window's budget is spent."""
    limit, window = parse_rate(rate)
    current = int((now if now is not None else time.time()) // window)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    cache_key = f"rl:{scope}:{digest}:{current}"
    if cache.add(cache_key, 1, timeout=window + 5):
        return True
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window + 5)
        return True
    return hits <= limit


def client_ip(request: HttpRequest) -> str:
    """The client's address; trusts X-Forwarded-For only as far as the configured proxy count."""
    proxies: int = settings.HOTLINE_TRUSTED_PROXY_COUNT
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    return hops[-proxies] if len(hops) >= proxies else remote
