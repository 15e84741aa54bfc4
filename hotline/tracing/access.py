"""Who may see an item's traces: the item readers, and the police liaison for illegal items only.

Tracing sits below assessment, so the rule of ``assessment.access`` is reproduced here on the
verdict codes; a test keeps ``POLICE_VERDICTS`` equal to ``assessment.codes.ILLEGAL_VERDICTS``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from hotline.accounts.access import current_user
from hotline.accounts.models import Role
from hotline.reports.models import Item

POLICE_VERDICTS = frozenset({"baseline", "national"})
FULL_READERS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER)
TRACE_READERS = (*FULL_READERS, Role.POLICE_LIAISON)
TRACERS = (Role.ANALYST, Role.SENIOR_ANALYST)
DIRECTORY_READERS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER, Role.ADMIN)
DIRECTORY_EDITORS = (Role.MANAGER, Role.ADMIN)


def visible_items(request: HttpRequest) -> QuerySet[Item]:
    user = current_user(request)
    if user.has_role(*FULL_READERS):
        return Item.objects.all()
    if user.has_role(Role.POLICE_LIAISON):
        return Item.objects.filter(verdict__in=POLICE_VERDICTS)
    raise PermissionDenied


def get_item_for(request: HttpRequest, pk: int) -> Item:
    item: Item = get_object_or_404(visible_items(request), pk=pk)
    return item
