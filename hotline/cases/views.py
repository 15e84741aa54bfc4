"""Case pages: the list, a case with its items, referrals, outcomes and timeline, and the forms that act on
it. Every view checks the role; every case is fetched through `access.get_case_for` (object access)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.assessment.access import visible_items
from hotline.assessment.codes import ILLEGAL_VERDICTS
from hotline.audit.services import Actor
from hotline.cases import services
from hotline.cases.access import EDITORS, OUTCOME_RECORDERS, READERS, REFERRERS, case_items, get_case_for, visible_cases
from hotline.cases.codes import outcome_label
from hotline.cases.forms import (
    CaseFilterForm,
    CaseForm,
    ImportForm,
    ItemsForm,
    NoteForm,
    OutcomeForm,
    ReferForm,
    RemoveItemForm,
    resolve_items,
)
from hotline.cases.models import Case, OutcomeImport
from hotline.cases.services import COLUMNS, ImportFileError, import_outcomes
from hotline.cases.timeline import case_timeline
from hotline.routing.models import Referral


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(current_user(request))


def _form_errors(form: forms.Form) -> str:
    return "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())


@role_required(*READERS)
def case_list(request: HttpRequest) -> HttpResponse:
    form = CaseFilterForm(request.GET or None)
    cases = visible_cases(request).with_current_outcome()
    if form.is_valid():
        cases = _filtered(cases, form.cleaned_data)
    police = current_user(request).has_role(Role.POLICE_LIAISON)
    count = Count("memberships", filter=Q(memberships__item__verdict__in=ILLEGAL_VERDICTS)) if police \
        else Count("memberships")
    cases = cases.annotate(item_count=count).order_by("-opened_at", "-pk")
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "cases/case_list.html", {"form": form, "page": page, "query": query.urlencode()})


def _filtered(cases: Any, data: dict[str, Any]) -> Any:
    if data["status"]:
        cases = cases.filter(status=data["status"])
    if data["outcome"] == "none":
        cases = cases.filter(current_outcome__isnull=True)
    elif data["outcome"]:
        cases = cases.filter(current_outcome=data["outcome"])
    if query := data["q"].strip():
        cases = cases.filter(Q(reference__icontains=query) | Q(title__icontains=query))
    return cases


@role_required(*EDITORS)
def case_new(request: HttpRequest) -> HttpResponse:
    """Open a case from ticked or typed item numbers; `?items=1,2` pre-fills, `?host=` lists candidates."""
    form = CaseForm(request.POST or None, initial={"items": request.GET.get("items", "")[:2000]})
    if request.method == "POST" and form.is_valid():
        items = resolve_items(form, form.cleaned_data["items"], visible_items(request))
        if form.is_valid():
            case = _open(request, form, items)
            if case is not None:
                messages.success(request, _("Case %(ref)s is open.") % {"ref": case.reference})
                return redirect("cases:detail", pk=case.pk)
    host = request.GET.get("host", "").strip()[:255]
    candidates = visible_items(request).filter(host__icontains=host).order_by("-pk")[:100] if host else []
    return render(request, "cases/case_new.html", {"form": form, "host": host, "candidates": candidates},
                  status=400 if form.errors else 200)


def _open(request: HttpRequest, form: CaseForm, items: list[Any]) -> Case | None:
    data = form.cleaned_data
    try:
        return services.open_case(data["title"], data["kind"], items, actor=_actor(request), now=timezone.now(),
                                  description=data["description"])
    except services.CaseError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


@role_required(*READERS)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for(request, pk)
    user = current_user(request)
    items = list(case_items(request, case))
    referrals = list(Referral.objects.filter(Q(cases=case) | Q(items__in=[i.pk for i in items])).distinct()
                     .select_related("police").prefetch_related("items").order_by("created_at", "pk"))
    current = services.current_outcome(case)
    return render(request, "cases/case_detail.html", {
        "case": case, "items": items, "referrals": referrals, "timeline": case_timeline(case, items, referrals),
        "outcomes": case.outcomes.latest_first(), "current": current,
        "current_label": outcome_label(current.code) if current else "",
        "can_edit": user.has_role(*EDITORS) and case.status == "open", "can_toggle": user.has_role(*EDITORS),
        "items_form": ItemsForm(), "note_form": NoteForm(),
        "refer_form": ReferForm() if user.has_role(*REFERRERS) and case.status == "open" else None,
        "outcome_form": OutcomeForm() if user.has_role(*OUTCOME_RECORDERS) else None,
        "referable": len(services.referable_items(case)),
    })


def _act(request: HttpRequest, pk: int, form_class: type[forms.Form],
         action: Callable[[Case, dict[str, Any], forms.Form], str]) -> HttpResponse:
    """Validate the posted form, run the service, and come back to the case with what happened."""
    case = get_case_for(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("cases:detail", pk=case.pk)
    try:
        done = action(case, form.cleaned_data, form)
    except services.CaseError as exc:
        messages.error(request, str(exc))
    else:
        if form.errors:
            messages.error(request, _form_errors(form))
        else:
            messages.success(request, done)
    return redirect("cases:detail", pk=case.pk)


@require_POST
@role_required(*EDITORS)
def add_items(request: HttpRequest, pk: int) -> HttpResponse:
    def add(case: Case, data: dict[str, Any], form: forms.Form) -> str:
        items = resolve_items(form, data["items"], visible_items(request))
        if form.errors:
            return ""
        count = services.add_items(case, items, actor=_actor(request), now=timezone.now())
        return _("%(n)d items added.") % {"n": count}

    return _act(request, pk, ItemsForm, add)


@require_POST
@role_required(*EDITORS)
def remove_item(request: HttpRequest, pk: int) -> HttpResponse:
    def remove(case: Case, data: dict[str, Any], form: forms.Form) -> str:
        item = visible_items(request).filter(pk=data["item"]).first()
        if item is None:
            raise services.CaseError("item", f"no item #{data['item']}")
        services.remove_item(case, item, actor=_actor(request), now=timezone.now())
        return _("Item #%(n)d removed.") % {"n": item.pk}

    return _act(request, pk, RemoveItemForm, remove)


@require_POST
@role_required(*EDITORS)
def close(request: HttpRequest, pk: int) -> HttpResponse:
    def close_it(case: Case, data: dict[str, Any], form: forms.Form) -> str:
        services.close_case(case, actor=_actor(request), now=timezone.now(), note=data["note"])
        return _("The case is closed.")

    return _act(request, pk, NoteForm, close_it)


@require_POST
@role_required(*EDITORS)
def reopen(request: HttpRequest, pk: int) -> HttpResponse:
    def reopen_it(case: Case, data: dict[str, Any], form: forms.Form) -> str:
        services.reopen_case(case, actor=_actor(request), now=timezone.now(), note=data["note"])
        return _("The case is open again.")

    return _act(request, pk, NoteForm, reopen_it)


@require_POST
@role_required(*REFERRERS)
def refer(request: HttpRequest, pk: int) -> HttpResponse:
    def refer_it(case: Case, data: dict[str, Any], form: forms.Form) -> str:
        referral = services.refer_case(case, data["police"], actor=_actor(request), now=timezone.now())
        return _("Referral queued for %(police)s with %(n)d items.") % {
            "police": referral.police, "n": referral.items.count()}

    return _act(request, pk, ReferForm, refer_it)


@require_POST
@role_required(*OUTCOME_RECORDERS)
def record_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    def record_it(case: Case, data: dict[str, Any], form: forms.Form) -> str:
        outcome = services.record_outcome(case, data["outcome"], data["decided_on"], actor=_actor(request),
                                          now=timezone.now(), reason=data["reason"], note=data["note"])
        return _("Outcome recorded: %(outcome)s.") % {"outcome": outcome_label(outcome.code)}

    return _act(request, pk, OutcomeForm, record_it)


@role_required(*OUTCOME_RECORDERS)
def import_page(request: HttpRequest) -> HttpResponse:
    """Upload the police's outcome CSV; the result names every refused line and field."""
    form = ImportForm(request.POST or None, request.FILES or None)
    result: OutcomeImport | None = None
    if request.method == "POST" and form.is_valid():
        result = _import(request, form)
    return render(request, "cases/import.html", {
        "form": form, "result": result, "columns": ",".join(COLUMNS),
        "recent": OutcomeImport.objects.all()[:20]}, status=400 if form.errors else 200)


def _import(request: HttpRequest, form: ImportForm) -> OutcomeImport | None:
    upload = form.cleaned_data["file"]
    if upload.size > settings.HOTLINE_CASES_IMPORT_MAX_BYTES:
        form.add_error("file", _("larger than %(n)d bytes") % {"n": settings.HOTLINE_CASES_IMPORT_MAX_BYTES})
        return None
    try:
        return import_outcomes(upload.read(), filename=upload.name or "upload.csv", actor=_actor(request),
                               now=timezone.now(), within=visible_cases(request))
    except ImportFileError as exc:
        form.add_error("file", str(exc))
        return None
