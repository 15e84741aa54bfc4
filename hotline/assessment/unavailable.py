"""Assessing items whose capture failed as unavailable, one at a time or in a bulk of identical ones.

Both go through the ordinary verbs (``claim_item`` then ``assess_item``), so the claim rules, the
validation and the four-eyes rules are those of every other assessment, with its audit events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hotline.accounts.models import User
from hotline.assessment.codes import UNAVAILABLE_REASONS, Reason, Verdict
from hotline.assessment.models import Assessment
from hotline.assessment.services import AssessmentData, AssessmentInvalid, WorkflowError, assess_item, claim_item
from hotline.evidence.models import Capture
from hotline.reports.models import Item, ItemStatus

UNAVAILABLE_CHOICES = [(reason.value, reason.label) for reason in Reason if reason in UNAVAILABLE_REASONS]
MAX_BULK = 100


def latest_capture(item: Item) -> Capture | None:
    capture: Capture | None = item.captures.order_by("-started_at", "-pk").first()
    return capture


def failure_code(item: Item) -> str | None:
    """The failure code of the item's newest capture, if the item is unreachable because it failed."""
    capture = latest_capture(item)
    if item.status != ItemStatus.UNREACHABLE or capture is None or not capture.failed:
        return None
    return capture.failure_code


@transaction.atomic
def assess_unavailable(item: Item, reason: str, *, user: User, now: datetime | None = None) -> Assessment:
    """Claim ``item`` (unless someone else holds it) and assess it "unreachable" for ``reason``."""
    now = now or timezone.now()
    if reason not in UNAVAILABLE_REASONS:
        raise AssessmentInvalid({"reason": _("Choose one of the unavailable reasons.")})
    if failure_code(item) is None:
        raise WorkflowError(_("Only an item whose capture failed can be assessed as unavailable from the queue."))
    if not item.is_claimed_by(user.pk, now):
        claim_item(item, user=user, now=now)
    return assess_item(item, AssessmentData(verdict=Verdict.UNREACHABLE, reason=reason), user=user, now=now)


@transaction.atomic
def assess_unavailable_bulk(items: Sequence[Item], reason: str, *, user: User,
                            now: datetime | None = None) -> list[Assessment]:
    """Assess several failed items at once, only if they failed the same way (one failure code);
    all or none. Each item gets its own claim and assessment events."""
    now = now or timezone.now()
    if not items or len(items) > MAX_BULK:
        raise WorkflowError(_("Select between 1 and %(n)s items.") % {"n": MAX_BULK})
    codes = {failure_code(item) for item in items}
    if None in codes:
        raise WorkflowError(_("Every selected item must be one whose capture failed."))
    if len(codes) != 1:
        raise WorkflowError(_("The selected items failed in different ways: assess them one by one."))
    return [assess_unavailable(item, reason, user=user, now=now) for item in items]
