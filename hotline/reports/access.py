"""Who may see which items: one rule for every domain (assessment, tracing, routing read it from here)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from hotline.accounts.access import current_user
from hotline.accounts.models import Role, User
from hotline.reports.models import Item, ItemQuerySet
from hotline.reports.verdicts import ILLEGAL_VERDICTS

FULL_READERS = frozenset({Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER})


def visible_items(request: HttpRequest) -> ItemQuerySet:
    return items_visible_to(current_user(request))


def items_visible_to(user: User) -> ItemQuerySet:
    """The items ``user`` may see (for services that take an actor rather than a request)."""
    if user.has_role(*FULL_READERS):
        return Item.objects.all()
    if user.has_role(Role.POLICE_LIAISON):
        # The police liaison works on what was found illegal and on what was referred to the police (an
        # `other_harm` item, when HOTLINE_OTHER_HARM_ROUTE refers those: its hold is theirs to answer), nothing
        # else.
        referred = Item.referrals.through.objects.filter(item_id=OuterRef("pk"))
        return Item.objects.filter(Q(verdict__in=ILLEGAL_VERDICTS) | Exists(referred))
    raise PermissionDenied


def get_item_for(request: HttpRequest, pk: int) -> Item:
    """The item ``pk`` if this user may see it; the same 404 as a missing one otherwise."""
    item: Item = get_object_or_404(visible_items(request), pk=pk)
    return item
