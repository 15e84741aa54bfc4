"""Notices to a provider's HTTP API / webhook: a JSON array of XARF v4 reports, with an idempotency key.

The endpoint comes from the directory (staff-entered), not from hostile input; it is still refused when it
resolves to a private or reserved address (the safe fetcher's address rules), loopback only in simulation.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from hotline.lib.netguard import blocked_reason
from hotline.takedown import xarf
from hotline.takedown.channels import Channel, ChannelError, OutboundMessage, SendResult

RETRY_STATUSES = frozenset({408, 425, 429})


class ApiChannel(Channel):
    name = "api"

    def send(self, message: OutboundMessage) -> SendResult:
        _check_endpoint(message.recipient)
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(message.key),
                   "X-Hotline-Notice": message.reference, "X-Hotline-Respond-URL": message.respond_url,
                   "User-Agent": f"{settings.HOTLINE_ORGANISATION} notices"}
        try:
            with httpx.Client(timeout=settings.HOTLINE_TAKEDOWN_API_TIMEOUT, trust_env=False,
                              follow_redirects=False) as client:
                response = client.post(message.recipient, content=xarf.dumps(message.xarf).encode(),
                                       headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelError(f"API: {type(exc).__name__}: {exc}", retry=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(delivered=True, detail=f"HTTP {status}")
        retry = status >= 500 or status in RETRY_STATUSES
        raise ChannelError(f"API answered HTTP {status}: {response.text[:200]!r}", retry=retry)


def _check_endpoint(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(f"endpoint: {url!r} is not an http(s) URL", retry=False)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ChannelError(f"endpoint: cannot resolve {parts.hostname}: {exc}", retry=True) from exc
    allow_loopback = bool(getattr(settings, "HOTLINE_FETCH_ALLOW_LOOPBACK", False))
    for info in infos:
        reason = blocked_reason(str(info[4][0]), allow_loopback=allow_loopback)
        if reason is not None:
            raise ChannelError(f"endpoint: {parts.hostname} resolves to {reason}", retry=False)
