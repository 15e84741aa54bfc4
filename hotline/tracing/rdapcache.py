"""RDAP answers cached in the database with a TTL, shared by every worker process.

One answer covers a whole network range, so every later address in that range is a cache hit:
a site's many URLs, or many sites at one host, cost one RDAP query per TTL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet

from hotline.lib import prepared
from hotline.lib.rdap import RdapNetwork
from hotline.tracing.models import RdapCache
from hotline.tracing.providers import chunks, covering, ip_key


def _best(networks: list[tuple[str, str, RdapNetwork]], key: str) -> RdapNetwork | None:
    """As ``DbRdapCache.get``: of the ranges holding ``key``, the highest start, then the lowest end."""
    holding = [(start, end, network) for start, end, network in networks if start <= key <= end]
    if not holding:
        return None
    best_start = max(start for start, _, _ in holding)
    return min((h for h in holding if h[0] == best_start), key=lambda h: h[1])[2]


class DbRdapCache:
    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl

    def get(self, ip: str, now: datetime) -> RdapNetwork | None:
        key = ip_key(ip)
        row = (RdapCache.objects.filter(range_start__lte=key, range_end__gte=key, expires_at__gt=now)
               .order_by("-range_start", "range_end").first())
        return RdapNetwork.from_json(row.network) if row is not None else None

    def get_many(self, keys: list[str], now: datetime) -> dict[str, RdapNetwork | None]:
        """``get`` for several addresses (by ``ip_key``): one query per sixty-four addresses, compiled once per
        process (``prepared``)."""
        rows: list[tuple[str, str, RdapNetwork]] = []
        for chunk in chunks(sorted(set(keys))):
            rows += [(row.range_start, row.range_end, RdapNetwork.from_json(row.network)) for row in
                     prepared.objects("tracing.rdap_cached", _cached, keys=prepared.padded(chunk), now=now)]
        return {key: _best(rows, key) for key in keys}

    def put(self, network: RdapNetwork, now: datetime) -> None:
        if self.ttl <= timedelta(0):
            return
        start, end = ip_key(network.start_address), ip_key(network.end_address)
        with transaction.atomic():
            RdapCache.objects.filter(range_start=start, range_end=end).delete()
            RdapCache.objects.create(range_start=start, range_end=end, network=network.to_json(),
                                     fetched_at=now, expires_at=now + self.ttl)


def _cached(keys: list[str], now: datetime) -> QuerySet[RdapCache]:
    return RdapCache.objects.filter(covering(keys), expires_at__gt=now)


def purge_expired(now: datetime) -> int:
    deleted, _ = RdapCache.objects.filter(expires_at__lte=now).delete()
    return deleted


class BatchRdapCache:
    """One batch's view of the cache (a notice's re-trace): the answers for its addresses read at once
    (``DbRdapCache.get_many``); a network the batch fetches is stored as usual and also answers the batch's
    later addresses in its range, as the database would. Other addresses go to the cache itself."""

    def __init__(self, cache: DbRdapCache, keys: list[str], now: datetime) -> None:
        self.cache = cache
        self.answers = cache.get_many(keys, now)
        self.fetched: list[tuple[str, str, RdapNetwork]] = []

    def get(self, ip: str, now: datetime) -> RdapNetwork | None:
        key = ip_key(ip)
        if key not in self.answers:
            return self.cache.get(ip, now)
        return self.answers[key] or _best(self.fetched, key)

    def put(self, network: RdapNetwork, now: datetime) -> None:
        self.cache.put(network, now)
        if self.cache.ttl > timedelta(0):
            self.fetched.append((ip_key(network.start_address), ip_key(network.end_address), network))
