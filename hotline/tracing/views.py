"""The provider directory (read: staff; edit and import: managers and admins) and an item's traces."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, role_required
from hotline.audit.services import Actor
from hotline.tracing import services
from hotline.tracing.access import DIRECTORY_EDITORS, DIRECTORY_READERS, TRACE_READERS, TRACERS, get_item_for
from hotline.tracing.forms import ContactFormSet, ImportForm, OriginForm, ProviderForm, contact_initial
from hotline.tracing.importer import import_providers
from hotline.tracing.models import Provider, Trace


@role_required(*DIRECTORY_READERS)
def provider_list(request: HttpRequest) -> HttpResponse:
    providers = Provider.objects.annotate(network_count=Count("networks", distinct=True),
                                          contact_count=Count("contacts", distinct=True)).order_by("name")
    if query := request.GET.get("q", "").strip()[:100]:
        providers = providers.filter(name__icontains=query)
    if request.GET.get("cdn"):
        providers = providers.filter(is_cdn=True)
    page = Paginator(providers, 100).get_page(request.GET.get("page"))
    can_edit = current_user(request).has_role(*DIRECTORY_EDITORS)
    return render(request, "tracing/provider_list.html", {"page": page, "q": query, "can_edit": can_edit})


@role_required(*DIRECTORY_READERS)
def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    return render(request, "tracing/provider_detail.html", {
        "provider": provider, "networks": provider.networks.order_by("asn", "range_start"),
        "contacts": provider.contacts.order_by("source", "pk"),
        "can_edit": current_user(request).has_role(*DIRECTORY_EDITORS),
    })


@role_required(*DIRECTORY_EDITORS)
def provider_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@role_required(*DIRECTORY_EDITORS)
def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Provider, pk=pk))


def _edit(request: HttpRequest, provider: Provider | None) -> HttpResponse:
    form = ProviderForm(request.POST or None, instance=provider)
    contacts = ContactFormSet(request.POST or None, initial=contact_initial(provider), prefix="contacts")
    if request.method == "POST" and form.is_valid() and contacts.is_valid():
        cleaned = [c for f in contacts.forms if (c := f.contact()) is not None]
        doomed = frozenset(int(f.cleaned_data["id"]) for f in contacts.forms
                           if f.cleaned_data.get("DELETE") and f.cleaned_data.get("id"))
        data = form.provider_in(cleaned)
        if data is not None and not any(f.errors for f in contacts.forms):
            try:
                saved = services.save_provider(provider, data, actor=Actor.of_user(current_user(request)),
                                               delete_contacts=doomed)
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The provider is saved."))
                return redirect("tracing:provider", pk=saved.pk)
    return render(request, "tracing/provider_form.html", {"form": form, "contacts": contacts,
                                                          "provider": provider})


@role_required(*DIRECTORY_EDITORS)
def import_view(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    summary = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        summary = import_providers(upload, fmt=form.file_format(), actor=Actor.of_user(current_user(request)),
                                   origin=f"upload {upload.name}"[:100])
    return render(request, "tracing/import.html", {"form": form, "summary": summary})


@role_required(*TRACE_READERS)
def item_traces(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    traces = (Trace.objects.filter(item=item).select_related("provider", "abuse_contact", "cdn")
              .order_by("-traced_at", "-pk"))
    return render(request, "tracing/item.html", {
        "item": item, "traces": traces[:50], "latest": traces.first(), "origin_form": OriginForm(),
        "can_act": current_user(request).has_role(*TRACERS),
        "due": getattr(item, "trace_due", None),
    })


@require_POST
@role_required(*TRACERS)
def record_origin(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    form = OriginForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the origin's IP address."))
        return redirect("tracing:item", pk=item.pk)
    try:
        services.record_origin(item, form.cleaned_data["address"], actor=Actor.of_user(current_user(request)),
                               now=timezone.now())
        messages.success(request, _("The origin is recorded in a new trace."))
    except services.OriginError as exc:
        messages.error(request, str(exc))
    return redirect("tracing:item", pk=item.pk)


@require_POST
@role_required(*TRACERS)
def retrace(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_item_for(request, pk)
    services.request_trace(item, actor=Actor.of_user(current_user(request)), now=timezone.now())
    messages.success(request, _("The item will be traced again in a moment."))
    return redirect("tracing:item", pk=item.pk)
