"""Routing's worker steps (``HOTLINE_WORKER_STEPS``): each does one batch through the services and returns
whether it found work, so tests call exactly one step."""

from __future__ import annotations

from datetime import datetime

from hotline.routing.services import deliver_due_referral, route_due


def routing_step(*, now: datetime | None = None, batch: int = 50) -> bool:
    """Route every item whose newest trace has not been decided on (up to ``batch``)."""
    return route_due(now=now, batch=batch)


def referral_step(*, now: datetime | None = None) -> bool:
    """Deliver one due police referral."""
    return deliver_due_referral(now=now)
