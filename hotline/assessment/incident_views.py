"""Reports without a URL: the public form (help at once), and the support queue and incident page for staff.

Views write nothing themselves: intake, status changes, annotations and every view of a screenshot go
through ``hotline.assessment.services.incidents``, which audits them.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from hotline.accounts.access import current_user, role_required
from hotline.assessment.codes import REPORT_ANNOTATIONS, annotations_of
from hotline.assessment.incident_forms import IncidentAnnotationsForm, IncidentReportForm, ReferForm
from hotline.assessment.models import Incident, IncidentScreenshot, IncidentStatus
from hotline.assessment.services import incidents
from hotline.audit.services import Actor, timeline
from hotline.reports.views import rate_limited

PUBLIC = Actor(label="public")
STAFF = incidents.INCIDENT_STAFF


class MemoryOnlyUploadHandler(FileUploadHandler):
    """Uploaded screenshots stay in memory (never a plaintext temporary file on disk), each cut off one
    byte past the limit so the form can say it is too large."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.limit = settings.HOTLINE_INCIDENT_MAX_SCREENSHOT_BYTES + 1

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        room = self.limit - self.buffer.tell()
        if room > 0:
            self.buffer.write(raw_data[:room])
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(self.buffer, self.field_name, self.file_name, self.content_type,
                                    self.buffer.getbuffer().nbytes, self.charset, self.content_type_extra)


def _contacts(kind: str | None) -> list[dict[str, str]]:
    language = get_language() or "en"
    return [c.for_language(language) for c in incidents.support_contacts(kind)]


@csrf_exempt
def report_form(request: HttpRequest) -> HttpResponse:
    """The upload handlers must be set before anything reads the body, so CSRF is checked after that."""
    request.upload_handlers = [MemoryOnlyUploadHandler(request)]
    response: HttpResponse = csrf_protect(_report_form)(request)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def _report_form(request: HttpRequest) -> HttpResponse:
    form = IncidentReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        limited = rate_limited(request, "public-incident", settings.HOTLINE_PUBLIC_RATE)
        if limited:
            return limited
        if form.is_valid():
            data = form.cleaned_data
            try:
                report = incidents.receive_incident(incidents.IncomingIncident(
                    kind=data["kind"], description=data["description"], platform=data["platform"],
                    accounts=data["accounts"], happened_when=data["happened_when"], ongoing=data["ongoing"],
                    contact=data["contact"], language=get_language() or "", screenshots=data["screenshots"],
                ), actor=PUBLIC)
            except incidents.IncidentError:
                form.add_error(None, _("We could not store this report. Please check what you entered."))
            else:
                return render(request, "assessment/incident_thanks.html", {
                    "reference": report.reference, "kind": report.kind, "contacts": _contacts(report.kind)})
    return render(request, "assessment/incident_form.html", {"form": form, "contacts": _contacts(None)})


# --- staff ----------------------------------------------------------------------------------------


@role_required(*STAFF)
def queue(request: HttpRequest) -> HttpResponse:
    waiting = Incident.objects.waiting().select_related("report", "handled_by")
    page = Paginator(waiting, 50).get_page(request.GET.get("page"))
    return render(request, "assessment/incident_queue.html", {"page": page})


def _incident(pk: int) -> Incident:
    incident: Incident = get_object_or_404(Incident.objects.select_related("report", "handled_by"), pk=pk)
    return incident


@never_cache
@role_required(*STAFF)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    user = current_user(request)
    incidents.opened_by_staff(incident, user=user)
    return render(request, "assessment/incident_detail.html", {
        "incident": incident, "report": incident.report,
        "screenshots": incident.screenshots.order_by("position"),
        "annotations": [REPORT_ANNOTATIONS[c] for c in annotations_of(incident, REPORT_ANNOTATIONS)],
        "annotations_form": IncidentAnnotationsForm(initial={
            "annotations": annotations_of(incident, REPORT_ANNOTATIONS)}),
        "refer_form": ReferForm(),
        "can_take": incident.status in (IncidentStatus.NEW, IncidentStatus.CLOSED),
        "can_refer": incident.status in (IncidentStatus.NEW, IncidentStatus.IN_PROGRESS),
        "can_close": incident.status != IncidentStatus.CLOSED,
        "events": timeline("assessment.incident", incident.pk),
    })


def _act(request: HttpRequest, pk: int, verb: Any, done: str, **kwargs: Any) -> HttpResponse:
    incident = _incident(pk)
    try:
        verb(incident, user=current_user(request), **kwargs)
        messages.success(request, done)
    except incidents.IncidentError as exc:
        messages.error(request, str(exc))
    return redirect("incidents:detail", pk=pk)


@require_POST
@role_required(*STAFF)
def take(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, incidents.take_incident, _("You are handling this report."))


@require_POST
@role_required(*STAFF)
def refer(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReferForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This text contains characters we cannot store."))
        return redirect("incidents:detail", pk=pk)
    return _act(request, pk, incidents.refer_incident, _("Recorded as referred to the police."),
                police_reference=form.cleaned_data["police_reference"])


@require_POST
@role_required(*STAFF)
def close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, incidents.close_incident, _("The report is closed."))


@require_POST
@role_required(*STAFF)
def annotate(request: HttpRequest, pk: int) -> HttpResponse:
    form = IncidentAnnotationsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose annotations from the list."))
        return redirect("incidents:detail", pk=pk)
    return _act(request, pk, incidents.annotate_incident, _("Annotations saved."),
                codes=form.cleaned_data["annotations"])


@never_cache
@role_required(*STAFF)
def screenshot(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    """One screenshot as PNG: blurred unless ``?sharp=1``; every request is an audited view."""
    shot: IncidentScreenshot = get_object_or_404(IncidentScreenshot.objects.select_related("blob", "incident"),
                                                 incident_id=pk, position=position)
    try:
        png = incidents.view_screenshot(shot, user=current_user(request), sharp=request.GET.get("sharp") == "1")
    except incidents.IncidentError as exc:
        return HttpResponse(str(exc), status=410, content_type="text/plain")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "no-store, private"
    return response
