"""Notices to a provider's HTTP API / webhook: a JSON array of XARF v4 reports, with an idempotency key.

The endpoint comes from the directory (staff-entered), not from hostile input; it still goes through the
pinned outbound client (:class:`hotline.lib.http.OutboundClient`): resolved once, refused (never retried)
when any address is private or reserved (loopback only in simulation), and sent to exactly the checked
address. What the provider answers on failure is kept as a short printable summary.
"""

from __future__ import annotations

from django.conf import settings

from hotline.lib import http as outbound
from hotline.takedown import xarf
from hotline.takedown.channels import Channel, ChannelError, OutboundMessage, SendResult

RETRY_STATUSES = frozenset({408, 425, 429})


class ApiChannel(Channel):
    name = "api"

    def send(self, message: OutboundMessage) -> SendResult:
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(message.key),
                   "X-Hotline-Notice": message.reference, "X-Hotline-Respond-URL": message.respond_url,
                   "User-Agent": f"{settings.HOTLINE_ORGANISATION} notices"}
        policy = outbound.outbound_policy(timeout=float(settings.HOTLINE_TAKEDOWN_API_TIMEOUT))
        try:
            response = outbound.request("POST", message.recipient, policy=policy,
                                        content=xarf.dumps(message.xarf).encode(), headers=headers)
        except outbound.FetchError as exc:
            where = "endpoint" if exc.code in outbound.FINAL_CODES else "API"
            raise ChannelError(f"{where}: {exc}", retry=exc.retryable) from exc
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(delivered=True, detail=f"HTTP {status}")
        retry = status >= 500 or status in RETRY_STATUSES
        raise ChannelError(f"API answered {outbound.answer_summary(status, response.body)}", retry=retry)
