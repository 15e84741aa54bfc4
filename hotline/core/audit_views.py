"""The audit page (recent events, chain check) for administrators and managers.

It lives in core because it needs accounts for access, and audit sits below accounts."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hotline.accounts.access import role_required
from hotline.accounts.models import Role
from hotline.audit.models import AuditEvent
from hotline.audit.services import verify


@role_required(Role.ADMIN, Role.MANAGER)
def index(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.order_by("-seq")
    if action := request.GET.get("action", "").strip()[:64]:
        events = events.filter(action=action)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    result = verify() if request.GET.get("verify") == "1" else None
    return render(request, "audit/index.html", {"page": page, "result": result, "action": action})
