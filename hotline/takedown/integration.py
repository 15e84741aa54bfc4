"""The calls takedown makes into the domains below it (tracing, routing, partners), in one place.

Tracing's ``trace_item`` is being written alongside this domain: until it exists the re-trace before
sending falls back to the newest stored trace (so a changed trace recorded by other means still
re-routes). Everything else here is a direct call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hotline.reports.models import Item
from hotline.routing.models import Decision
from hotline.tracing.models import Trace

log = logging.getLogger("hotline.takedown")


def _tracer() -> Callable[..., Trace] | None:
    try:
        from hotline.tracing import services
    except ImportError:
        return None
    found: Callable[..., Trace] | None = getattr(services, "trace_item", None)
    return found


def retrace(item: Item, *, now: datetime) -> Trace | None:
    """Trace ``item`` again now (DNS, addresses, provider); the newest stored trace without a tracer."""
    tracer = _tracer()
    if tracer is None:
        return Trace.objects.latest_for(item.pk)
    return tracer(item, now=now)


def reroute(item: Item, *, trace: Trace, now: datetime) -> Decision:
    """Let routing decide again after the host changed; returns the (new) current decision."""
    from hotline.routing.services import route_item

    return route_item(item, trace=trace, now=now)


def mark_notice_taken(decision: Decision, *, now: datetime) -> None:
    from hotline.routing.services import mark_notice_taken as taken

    taken(decision, now=now)


def forwarded_by_partners(item_ids: list[int]) -> set[int]:
    """Which of these items a partner hotline forwarded to us (only those have partners to tell)."""
    from hotline.partners.models import InboundForward

    return set(InboundForward.objects.filter(item_id__in=item_ids).values_list("item_id", flat=True))


def tell_partners(item: Item, status: str, *, now: datetime, note: str = "") -> int:
    """Queue a status for every partner hotline that forwarded ``item`` (inside the caller's transaction)."""
    from hotline.partners.services import send_status

    sent: Any = send_status(item, status, now=now, note=note)
    return int(sent)
