"""Which holds a user may see and act on: a hold follows the object access of what it holds.

A hold on an object the user may not see behaves exactly like one that does not exist (the same
404, the same form error), so neither the hold list nor a refused form reveals that the object is
there, let alone the reason it is held.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from hotline.accounts.models import Role, User
from hotline.assessment.access import items_visible_to
from hotline.cases.access import cases_visible_to
from hotline.cases.models import Case
from hotline.reports.models import Item
from hotline.retention.models import Hold, HoldQuerySet, HoldTarget


def holdable(user: User, object_type: str) -> QuerySet[Item] | QuerySet[Case]:
    """The items or cases whose holds ``user`` may read, place or release.

    Administrators any item or case (docs/retention.md); everyone else what they may see.
    Raises ``PermissionDenied`` for a user who may see neither items nor cases.
    """
    model: type[Item] | type[Case] = Item if object_type == HoldTarget.ITEM else Case
    if user.has_role(Role.ADMIN):
        return model.objects.all()
    return items_visible_to(user) if object_type == HoldTarget.ITEM else cases_visible_to(user)


def visible_holds(user: User) -> HoldQuerySet:
    """The holds (active or released) on objects ``user`` may see: the only ones they may read or release."""
    if user.has_role(Role.ADMIN):
        return Hold.objects.all()
    on_items = Q(object_type=HoldTarget.ITEM, object_id__in=holdable(user, HoldTarget.ITEM).values("pk"))
    on_cases = Q(object_type=HoldTarget.CASE, object_id__in=holdable(user, HoldTarget.CASE).values("pk"))
    return Hold.objects.filter(on_items | on_cases)
