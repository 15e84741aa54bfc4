"""Retention pages: the plan per data class (managers, administrators) and legal holds (police
liaison and administrators place and release them; managers read). A hold is read, placed and
released only on an object the user may see (``retention.access``); any other is a missing one."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.retention import services
from hotline.retention.access import holdable, visible_holds
from hotline.retention.forms import HoldForm, ReleaseForm, form_errors
from hotline.retention.models import Hold, HoldTarget

PLAN_READERS = (Role.ADMIN, Role.MANAGER)
HOLD_READERS = (Role.POLICE_LIAISON, Role.ADMIN, Role.MANAGER)
PLAN_DAYS = 28


@role_required(*PLAN_READERS)
def plan(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    plans = services.plan(now, days=PLAN_DAYS)
    weeks = [now.date() + timedelta(days=7 * n) for n in range(PLAN_DAYS // 7)]
    rows = [(p, [p.weeks(now.date()).get(week, 0) for week in weeks]) for p in plans]
    return render(request, "retention/plan.html", {
        "rows": rows, "weeks": weeks, "active_holds": Hold.objects.active().count()})


@role_required(*HOLD_READERS)
def hold_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    holds = visible_holds(user).select_related("placed_by", "released_by").order_by(
        "released_at", "-placed_at", "-pk")
    if request.GET.get("show") != "all":
        holds = holds.filter(released_at__isnull=True)
    can_act = user.has_role(*services.HOLD_ROLES)
    return render(request, "retention/holds.html", {
        "page": Paginator(holds, 50).get_page(request.GET.get("page")), "show_all": request.GET.get("show") == "all",
        "form": HoldForm() if can_act else None, "release_form": ReleaseForm(auto_id=False) if can_act else None})


@require_POST
@role_required(*services.HOLD_ROLES)
def place(request: HttpRequest) -> HttpResponse:
    form = HoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect("retention:holds")
    user = current_user(request)
    object_type, object_id = form.cleaned_data["object_type"], form.cleaned_data["object_id"]
    if not holdable(user, object_type).filter(pk=object_id).exists():
        # The same words whether the object is missing or only hidden from this user.
        message = (_("object_id: there is no item %(n)d you may see.") if object_type == HoldTarget.ITEM
                   else _("object_id: there is no case %(n)d you may see."))
        messages.error(request, message % {"n": object_id})
        return redirect("retention:holds")
    try:
        services.place_hold(object_type, object_id, reason=form.cleaned_data["reason"], user=user)
        messages.success(request, _("The hold is in place: no purge touches this data until it is released."))
    except services.HoldError as exc:
        messages.error(request, str(exc))
    return redirect("retention:holds")


@require_POST
@role_required(*services.HOLD_ROLES)
def release(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    hold = get_object_or_404(visible_holds(user), pk=pk)  # hidden object: the same 404 as no such hold
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect("retention:holds")
    try:
        services.release_hold(hold, user=user, reason=form.cleaned_data["reason"])
        messages.success(request, _("The hold is released; purges resume at their next run."))
    except services.HoldError as exc:
        messages.error(request, str(exc))
    return redirect("retention:holds")
