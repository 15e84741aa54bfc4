"""Who may see which case, and which of its items: fetch a case and check access in one place."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from hotline.accounts.access import current_user
from hotline.accounts.models import Role, User
from hotline.assessment.access import FULL_READERS, items_visible_to, visible_items
from hotline.cases.models import Case, CaseItem, CaseQuerySet
from hotline.reports.models import ItemQuerySet

READERS = (*FULL_READERS, Role.POLICE_LIAISON)
EDITORS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER)
REFERRERS = (Role.SENIOR_ANALYST, Role.MANAGER)
OUTCOME_RECORDERS = (Role.POLICE_LIAISON,)


def visible_cases(request: HttpRequest) -> CaseQuerySet:
    """Staff see every case; the police liaison only cases holding at least one item they may see (assessed
    illegal, or referred to the police: ``reports.access``); a case with none is not police business, and its
    title alone may say too much."""
    return cases_visible_to(current_user(request))


def cases_visible_to(user: User) -> CaseQuerySet:
    """The cases ``user`` may see (for services that take an actor rather than a request)."""
    if user.has_role(*FULL_READERS):
        return Case.objects.all()
    if user.has_role(Role.POLICE_LIAISON):
        theirs = CaseItem.objects.filter(case=OuterRef("pk"), item__in=items_visible_to(user).values("pk"))
        return Case.objects.filter(Exists(theirs))
    raise PermissionDenied


def get_case_for(request: HttpRequest, pk: int) -> Case:
    case: Case = get_object_or_404(visible_cases(request), pk=pk)
    return case


def case_items(request: HttpRequest, case: Case) -> ItemQuerySet:
    """The case's items this user may see (the police liaison: the illegal and the referred ones only)."""
    return visible_items(request).filter(case_memberships__case=case).order_by("pk")
