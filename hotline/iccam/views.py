"""The managers' page of what went wrong with ICCAM: refused and failed writes, retries, the pull's last error."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hotline.accounts.access import role_required
from hotline.accounts.models import Role
from hotline.iccam import conf
from hotline.iccam.models import Content, PullState, Push

ROWS = 200


@role_required(Role.MANAGER, Role.ADMIN)
def errors(request: HttpRequest) -> HttpResponse:
    pushes = Push.objects.problems().select_related("content").order_by("-pk")[:ROWS]
    references = Content.objects.exclude(reference_error="").order_by("-pk")[:ROWS]
    return render(request, "iccam/errors.html", {
        "enabled": conf.enabled(), "state": PullState.objects.filter(pk=1).first(), "pushes": pushes,
        "references": references})
