"""Viewing evidence: counting what analysts see against their daily budget, audited reveals."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from hotline.accounts.models import User
from hotline.audit.services import Actor, record
from hotline.evidence import actions, welfare
from hotline.evidence.models import Capture, Media
from hotline.evidence.welfare import WelfareState
from hotline.reports.models import Item


@transaction.atomic
def note_media_viewed(item: Item, capture: Capture, media_count: int, *, user: User, now: datetime) -> WelfareState:
    """An analyst opened an item page showing ``media_count`` blurred previews: count and audit it."""
    state = welfare.note_viewing(user, now)
    record(Actor.of_user(user), actions.ITEM_MEDIA_VIEWED, item, now=now,
           after={"capture": capture.pk, "media": media_count, "blurred": True})
    return state


class RevealRefused(Exception):
    pass


@transaction.atomic
def reveal_media(media: Media, *, user: User, now: datetime) -> None:
    """Unblur one media item for this analyst: refused past the daily budget, always audited."""
    if welfare.current(user, now).over_budget:
        raise RevealRefused("daily viewing budget reached")
    welfare.note_viewing(user, now, reveal=True)
    record(Actor.of_user(user), actions.MEDIA_REVEALED, media, now=now,
           after={"item": media.item_id, "sha256": media.sha256, "kind": media.kind})


@transaction.atomic
def reveal_screenshot(capture: Capture, *, user: User, now: datetime) -> None:
    """Unblur one capture's screenshot for this analyst: the same budget and audit as media."""
    if welfare.current(user, now).over_budget:
        raise RevealRefused("daily viewing budget reached")
    welfare.note_viewing(user, now, reveal=True)
    record(Actor.of_user(user), actions.SCREENSHOT_REVEALED, capture.item, now=now,
           after={"capture": capture.pk, "sha256": capture.screenshot.sha256 if capture.screenshot else None})
