"""Object access for police referrals: a referral follows the object access of the items it holds."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from hotline.accounts.access import current_user
from hotline.accounts.models import Role, User
from hotline.assessment.access import items_visible_to
from hotline.routing.models import Referral

REFERRAL_READERS = (Role.SENIOR_ANALYST, Role.POLICE_LIAISON, Role.MANAGER)


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    """The referrals ``user`` may see: those holding no item the user may not see (the police liaison sees
    illegal items and the items referred to the police, so today every referral; the rule stays so that a
    narrower item rule narrows the desk with it)."""
    if not user.has_role(*REFERRAL_READERS):
        raise PermissionDenied
    if not user.has_role(Role.POLICE_LIAISON):
        return Referral.objects.all()
    hidden_item = Referral.items.through.objects.filter(referral=OuterRef("pk")).exclude(
        item__in=items_visible_to(user).values("pk"))
    return Referral.objects.filter(~Exists(hidden_item))


def get_referral_for(request: HttpRequest, pk: int) -> Referral:
    """The referral, or the same 404 as a missing one when the user may not see it."""
    referral: Referral = get_object_or_404(
        referrals_visible_to(current_user(request)).select_related("police"), pk=pk)
    return referral
