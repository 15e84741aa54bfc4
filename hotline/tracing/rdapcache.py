"""RDAP answers cached in the database with a TTL, shared by every worker process.

One answer covers a whole network range, so every later address in that range is a cache hit:
a site's many URLs, or many sites at one host, cost one RDAP query per TTL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from hotline.lib.rdap import RdapNetwork
from hotline.tracing.models import RdapCache
from hotline.tracing.providers import ip_key


class DbRdapCache:
    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl

    def get(self, ip: str, now: datetime) -> RdapNetwork | None:
        key = ip_key(ip)
        row = (RdapCache.objects.filter(range_start__lte=key, range_end__gte=key, expires_at__gt=now)
               .order_by("-range_start", "range_end").first())
        return RdapNetwork.from_json(row.network) if row is not None else None

    def put(self, network: RdapNetwork, now: datetime) -> None:
        if self.ttl <= timedelta(0):
            return
        start, end = ip_key(network.start_address), ip_key(network.end_address)
        with transaction.atomic():
            RdapCache.objects.filter(range_start=start, range_end=end).delete()
            RdapCache.objects.create(range_start=start, range_end=end, network=network.to_json(),
                                     fetched_at=now, expires_at=now + self.ttl)


def purge_expired(now: datetime) -> int:
    deleted, _ = RdapCache.objects.filter(expires_at__lte=now).delete()
    return deleted
