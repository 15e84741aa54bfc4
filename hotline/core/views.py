"""Start page for staff, health check, error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import loader

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


# Error pages (hotline/urls.py handler400/403/404/500). The same styled, translated pages with DEBUG on or off:
# a 404 never says whether the object exists (an object the user may not see answers exactly like a missing one),
# and a 403 says only that this role may not open the page.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A reason given on purpose (``PermissionDenied(_("..."))``) is shown; a bare denial shows none.
    reason = str(exception) if exception is not None and exception.args else ""
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The exception's message is never shown: it may name the object or the query that missed.
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """No request context and no database: the failure may be the database itself."""
    return HttpResponse(loader.get_template("500.html").render(), status=500)
