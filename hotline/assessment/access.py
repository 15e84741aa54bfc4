"""Object access for items: fetch an item and check that this user may see or act on it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from hotline.accounts.access import current_user
from hotline.accounts.models import Role
from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.reports.models import Item, ItemQuerySet

FULL_READERS = frozenset({Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER})


def visible_items(request: HttpRequest) -> ItemQuerySet:
    user = current_user(request)
    if user.has_role(*FULL_READERS):
        return Item.objects.all()
    if user.has_role(Role.POLICE_LIAISON):
        # The police liaison works on what was found illegal, nothing else.
        return Item.objects.filter(verdict__in=ILLEGAL_VERDICTS)
    raise PermissionDenied


def get_item_for(request: HttpRequest, pk: int) -> Item:
    item: Item = get_object_or_404(visible_items(request), pk=pk)
    return item
