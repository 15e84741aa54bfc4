"""The police liaison desk: the referrals list, filtered and in pages (queries only, no writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Prefetch, Q, QuerySet

from hotline.reports.models import Item
from hotline.routing.models import PoliceAnswer, Referral, ReferralStatus

AWAITING, ANSWERED, UNSENT = "awaiting", "answered", "unsent"


@dataclass(frozen=True)
class DeskFilters:
    state: str = ""  # AWAITING, ANSWERED, UNSENT or "" (all)
    answer: str = ""  # one PoliceAnswer value, or "" (any)
    created_from: date | None = None
    created_to: date | None = None


def awaiting_answer(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """Sent to the police and not answered yet: what the liaison must chase."""
    return referrals.filter(status=ReferralStatus.SENT, answer=PoliceAnswer.NONE)


def filtered(referrals: QuerySet[Referral], filters: DeskFilters) -> QuerySet[Referral]:
    if filters.state == AWAITING:
        referrals = awaiting_answer(referrals)
    elif filters.state == ANSWERED:
        referrals = referrals.exclude(answer=PoliceAnswer.NONE)
    elif filters.state == UNSENT:
        referrals = referrals.exclude(status=ReferralStatus.SENT)
    if filters.answer:
        referrals = referrals.filter(answer=filters.answer)
    if filters.created_from:
        referrals = referrals.filter(created_at__date__gte=filters.created_from)
    if filters.created_to:
        referrals = referrals.filter(created_at__date__lte=filters.created_to)
    return referrals


def desk_rows(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """The rows of the list: newest first, with their police contact, items (for the URL column) and cases."""
    return (referrals.select_related("police").order_by("-created_at", "-pk")
            .prefetch_related(Prefetch("items", queryset=Item.objects.order_by("pk").only("pk", "canonical_url",
                                                                                           "host", "verdict")),
                              "cases"))


def counts(referrals: QuerySet[Referral]) -> dict[str, int]:
    """How many referrals the liaison has in each state (the filter's labels show them)."""
    return {
        AWAITING: awaiting_answer(referrals).count(),
        ANSWERED: referrals.filter(~Q(answer=PoliceAnswer.NONE)).count(),
        UNSENT: referrals.exclude(status=ReferralStatus.SENT).count(),
    }
