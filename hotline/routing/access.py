"""Object access for police referrals: a referral follows the object access of the items it holds."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from hotline.accounts.access import current_user
from hotline.accounts.models import Role, User
from hotline.routing.models import Referral

REFERRAL_READERS = (Role.SENIOR_ANALYST, Role.POLICE_LIAISON, Role.MANAGER)


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    """The referrals ``user`` may see: every one, for each reader. A referral follows the object access of its
    items, and every item in a referral is one the police liaison may see (``reports.access``: illegal items
    and the items referred to the police), so no referral is hidden from a reader."""
    if not user.has_role(*REFERRAL_READERS):
        raise PermissionDenied
    return Referral.objects.all()


def get_referral_for(request: HttpRequest, pk: int) -> Referral:
    """The referral, or the same 404 as a missing one when the user may not see it."""
    referral: Referral = get_object_or_404(
        referrals_visible_to(current_user(request)).select_related("police"), pk=pk)
    return referral
