"""The assessment domain's worker steps (``HOTLINE_WORKER_STEPS``): thin, the work is in the services."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.assessment.services import workflow


def expire_claims_step(*, now: datetime | None = None, limit: int = 100) -> bool:
    """Worker step: clear expired claims, one audited event each. Returns whether it found work."""
    return workflow.expire_claims(now=now or timezone.now(), limit=limit)


def inherit_known_step(*, now: datetime | None = None, limit: int = 50) -> bool:
    """Worker step: assess by inheritance the items whose captured media are all known illegal content
    (when ``HOTLINE_AUTO_ASSESS_KNOWN`` is on). Returns whether it found work."""
    return workflow.inherit_known(now=now or timezone.now(), limit=limit)
