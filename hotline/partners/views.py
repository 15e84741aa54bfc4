"""Partner pages: the directory (all staff read; managers and administrators edit and import), the
forwards we made with their status histories, and the inbound message log."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, reauth_redirect, role_required
from hotline.accounts.models import Role
from hotline.accounts.session import recently_authenticated
from hotline.assessment.access import get_item_for, visible_items
from hotline.audit.services import Actor
from hotline.partners import importer, services
from hotline.partners.forms import HotlineForm, ImportForm, PoliceForm
from hotline.partners.models import (
    DeliveryState,
    Forward,
    InboundMessage,
    InboundOutcome,
    OutboundMessage,
    PartnerHotline,
    PoliceContact,
)

STAFF = (Role.ANALYST, Role.SENIOR_ANALYST, Role.POLICE_LIAISON, Role.MANAGER, Role.ADMIN)
EDITORS = (Role.MANAGER, Role.ADMIN)
FORWARD_READERS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.POLICE_LIAISON, Role.MANAGER)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(current_user(request))


def _object_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("id", "")
    return int(raw) if raw.isdigit() and len(raw) < 18 else None


@role_required(*STAFF)
def directory_page(request: HttpRequest) -> HttpResponse:
    return render(request, "partners/directory.html", {
        "hotlines": PartnerHotline.objects.order_by("name"),
        "police": PoliceContact.objects.all(),
        "can_edit": current_user(request).has_role(*EDITORS),
        "our_code": services.our_code(),
    })


@role_required(*EDITORS)
def hotline_form(request: HttpRequest) -> HttpResponse:
    """``?id=N`` edits partner N; without it, a new partner."""
    pk = _object_id(request)
    hotline = get_object_or_404(PartnerHotline, pk=pk) if pk is not None else None
    initial = {name: getattr(hotline, name) for name in services.HOTLINE_FIELDS} if hotline else None
    form = HotlineForm(request.POST or None, initial=initial, instance=hotline)
    if request.method == "POST" and _changes_key(request, hotline) and not recently_authenticated(request):
        return reauth_redirect(request, back_to=request.get_full_path())  # a partner key is a trust anchor
    if request.method == "POST" and form.is_valid():
        saved = services.save_hotline(form.cleaned_data, actor=_actor(request), hotline=hotline)
        messages.success(request, _("Partner %(name)s saved.") % {"name": saved.name})
        return redirect("partners:directory")
    return render(request, "partners/hotline_form.html", {"form": form, "hotline": hotline})


@role_required(*EDITORS)
def police_form(request: HttpRequest) -> HttpResponse:
    """``?id=N`` edits police contact N; without it, a new one."""
    pk = _object_id(request)
    contact = get_object_or_404(PoliceContact, pk=pk) if pk is not None else None
    initial = {name: getattr(contact, name) for name in services.POLICE_FIELDS} if contact else None
    form = PoliceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = services.save_police(form.cleaned_data, actor=_actor(request), contact=contact)
        messages.success(request, _("Police contact %(name)s saved.") % {"name": saved.name})
        return redirect("partners:directory")
    return render(request, "partners/police_form.html", {"form": form, "contact": contact})


def _changes_key(request: HttpRequest, hotline: PartnerHotline | None) -> bool:
    return request.POST.get("public_key", "").strip() != (hotline.public_key if hotline else "")


@role_required(*EDITORS)
def import_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and not recently_authenticated(request):
        return reauth_redirect(request, back_to=request.get_full_path())  # an import may replace partner keys
    form = ImportForm(request.POST or None, request.FILES or None)
    summary = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            form.add_error("file", _("The file is larger than 5 MB."))
        else:
            fmt = "csv" if upload.name.lower().endswith(".csv") else "json"
            summary = importer.import_directory(upload.read(), fmt=fmt, actor=_actor(request))
    return render(request, "partners/import.html", {"form": form, "summary": summary})


def _visible_forwards(request: HttpRequest) -> QuerySet[Forward]:
    return Forward.objects.filter(item__in=visible_items(request))


@role_required(*FORWARD_READERS)
def forwards(request: HttpRequest) -> HttpResponse:
    rows = _visible_forwards(request).select_related("item", "partner", "message").order_by("-created_at", "-pk")
    if status := request.GET.get("status", "")[:20]:
        rows = rows.filter(status=status)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(request, "partners/forwards.html", {"page": page, "status": status})


@role_required(*FORWARD_READERS)
def item_forwards(request: HttpRequest, pk: int) -> HttpResponse:
    """Every forward of one item, with its delivery state and the partner's status history."""
    item = get_item_for(request, pk)
    rows = (Forward.objects.filter(item=item).select_related("partner", "message")
            .prefetch_related("events").order_by("created_at", "pk"))
    inbound = item.inbound_forwards.select_related("partner", "report").order_by("received_at")
    return render(request, "partners/item_forwards.html", {
        "item": item, "forwards": rows, "inbound": inbound,
        "can_retry": current_user(request).has_role(*EDITORS)})


@role_required(*EDITORS)
def inbound(request: HttpRequest) -> HttpResponse:
    rows = InboundMessage.objects.select_related("partner").order_by("-received_at", "-pk")
    outcome = request.GET.get("outcome", "")
    if outcome in InboundOutcome.values:
        rows = rows.filter(outcome=outcome)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(request, "partners/inbound.html",
                  {"page": page, "outcome": outcome, "outcomes": InboundOutcome.choices})


@require_POST
@role_required(*EDITORS)
def retry(request: HttpRequest) -> HttpResponse:
    """Queue a failed outbound message again (same id), e.g. after the partner fixed their side."""
    raw = request.POST.get("message", "")
    message = OutboundMessage.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 18 else None
    if message is None or message.state != DeliveryState.FAILED:
        messages.error(request, _("There is no failed message to send again."))
        return redirect("partners:forwards")
    services.requeue(message, actor=_actor(request), now=timezone.now())
    messages.success(request, _("The message will be sent again."))
    forward = Forward.objects.filter(message=message).first()
    return redirect("partners:item_forwards", pk=forward.item_id) if forward else redirect("partners:forwards")
