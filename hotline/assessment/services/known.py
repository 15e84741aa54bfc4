"""When inherited verdicts are withdrawn (an entry disabled or quarantined, a bank demoted, a verdict
overruled), the items assessed on them go back to the review queue, with the reason."""

from __future__ import annotations

from django.db.models import QuerySet

from hotline.assessment import actions
from hotline.assessment.models import MediaAssessment
from hotline.audit.services import Change, record_many
from hotline.evidence.models import Media
from hotline.hashes.services.trust import Withdrawal, register_withdrawal_hook
from hotline.reports.models import AWAITING_ASSESSMENT, Item, ItemStatus

REOPENABLE = (ItemStatus.ASSESSED, ItemStatus.CLOSED)


def relied_items(item_ids: frozenset[int], media_ids: frozenset[int]) -> QuerySet[Item]:
    """Items whose final assessment took one of these files' inherited verdicts."""
    rows = MediaAssessment.objects.final().filter(media__in=media_ids, inherited=True, assessment__item__in=item_ids)
    return Item.objects.filter(pk__in=rows.values("assessment__item"))


def preview(item_ids: frozenset[int], media_ids: frozenset[int]) -> dict[str, int]:
    relied = relied_items(item_ids, media_ids)
    return {"to_review": relied.filter(status__in=REOPENABLE).count(),
            "in_review": relied.filter(status=ItemStatus.IN_REVIEW).count(),
            "to_queue": Item.objects.filter(pk__in=item_ids, status__in=AWAITING_ASSESSMENT).count()}


def apply(withdrawal: Withdrawal) -> dict[str, int]:
    """Each item assessed on a withdrawn verdict goes to the review queue (a second analyst decides);
    items not assessed yet simply stay in the queue, now without the inherited verdict. The items are
    locked, moved and audited set-wise, their files read in one query."""
    counts = preview(withdrawal.item_ids, withdrawal.media_ids)
    relied = relied_items(withdrawal.item_ids, withdrawal.media_ids)
    items = list(relied.select_for_update().filter(status__in=REOPENABLE).order_by("pk"))
    media = _media_of([item.pk for item in items])
    changes, fields = [], set()
    for item in items:
        before = {"status": item.status, "verdict": item.verdict}
        fields.update(item.transition(ItemStatus.IN_REVIEW, now=withdrawal.now))
        changes.append(Change(actions.ITEM_REVIEW_REQUESTED, item, before, {
            "status": item.status, "reason": withdrawal.reason, "withdrawal": withdrawal.kind,
            "media": sorted(withdrawal.media_ids & media.get(item.pk, frozenset()))}))
    if items:
        Item.objects.bulk_update(items, sorted(fields))
    record_many(withdrawal.actor, changes, now=withdrawal.now)
    return counts


def _media_of(item_ids: list[int]) -> dict[int, frozenset[int]]:
    found: dict[int, set[int]] = {}
    for item_id, pk in Media.objects.filter(item__in=item_ids).values_list("item_id", "pk"):
        found.setdefault(item_id, set()).add(pk)
    return {item_id: frozenset(pks) for item_id, pks in found.items()}


def register() -> None:
    register_withdrawal_hook("assessment", preview, apply)
