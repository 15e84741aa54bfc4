"""Start page for staff, health check."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from hotline.accounts.access import current_user
from hotline.accounts.models import ASSESSING_ROLES, Role
from hotline.reports.models import Item


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("reports:form")
    user = current_user(request)
    if user.has_role(*ASSESSING_ROLES):
        return redirect("assessment:queue")
    if user.has_role(Role.MANAGER, Role.POLICE_LIAISON):
        return redirect("assessment:items")
    if user.has_role(Role.ADMIN):
        return redirect("audit:index")
    return render(request, "core/no_role.html", status=403)


def healthz(request: HttpRequest) -> HttpResponse:
    """The database answers and the schema is there (a query on a real table, not just SELECT 1)."""
    Item.objects.exists()
    return HttpResponse("ok", content_type="text/plain")
