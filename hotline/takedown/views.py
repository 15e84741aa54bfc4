"""Takedown pages: notices, an item's takedown timeline, provider scorecards (and CSV), non-responders,
information requests with their answer form, and the public page behind the providers' signed links."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.assessment.access import get_item_for
from hotline.audit.services import Actor
from hotline.reports.models import Item
from hotline.takedown import respond as responding
from hotline.takedown import scorecards as cards
from hotline.takedown.forms import AnswerForm, InfoRequestForm, RespondNoticeForm, RespondRequestForm
from hotline.takedown.models import InfoRequest, Notice, NoticeState, RequestState, Takedown
from hotline.takedown.services import NewRequest, RequestInvalid, create_info_request, record_answer
from hotline.takedown.timings import for_takedown, human

NOTICE_READERS = (Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER)
ITEM_READERS = (*NOTICE_READERS, Role.POLICE_LIAISON)
SCORE_READERS = NOTICE_READERS
EXPORTERS = (Role.SENIOR_ANALYST, Role.MANAGER)
REQUEST_READERS = (*NOTICE_READERS, Role.POLICE_LIAISON)
REQUEST_WRITERS = (Role.SENIOR_ANALYST, Role.MANAGER, Role.POLICE_LIAISON)


@role_required(*NOTICE_READERS)
def notice_list(request: HttpRequest) -> HttpResponse:
    notices = Notice.objects.select_related("contact", "provider")
    state = request.GET.get("state", "")
    if state in NoticeState.values:
        notices = notices.filter(state=state)
    page = Paginator(notices, 50).get_page(request.GET.get("page"))
    return render(request, "takedown/notice_list.html", {"page": page, "state": state, "states": NoticeState.choices})


@role_required(*NOTICE_READERS)
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(Notice.objects.select_related("contact", "provider"), pk=pk)
    lines = notice.lines.select_related("item", "takedown").order_by("item_id")
    return render(request, "takedown/notice_detail.html", {"notice": notice, "lines": lines})


@role_required(*ITEM_READERS)
def item_takedown(request: HttpRequest, pk: int) -> HttpResponse:
    item: Item = get_item_for(request, pk)
    takedown = Takedown.objects.filter(item=item).select_related("contact", "provider").first()
    timings = for_takedown(takedown, now=timezone.now()) if takedown else None
    return render(request, "takedown/item.html", {
        "item": item, "takedown": takedown, "timings": timings,
        "spans": {name: human(getattr(timings, name)) for name in ("to_police", "to_notice", "to_removal")}
        if timings else {}, "within": [(name, timings.within[name]) for name in ("24h", "3d", "7d")] if timings else [],
        "lines": item.notice_lines.select_related("notice").order_by("-notice__created_at"),
        "requests": item.info_requests.all()})


@role_required(*SCORE_READERS)
def scorecard_list(request: HttpRequest) -> HttpResponse:
    by = "contact" if request.GET.get("by") == "contact" else "provider"
    rows = [(card, cards.as_row(card, for_people=True)) for card in cards.scorecards(by, now=timezone.now())]
    return render(request, "takedown/scorecards.html", {"rows": rows, "by": by})


@role_required(*EXPORTERS)
def scorecard_csv(request: HttpRequest) -> HttpResponse:
    by = "contact" if request.GET.get("by") == "contact" else "provider"
    response = HttpResponse(cards.to_csv(cards.scorecards(by, now=timezone.now())), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="scorecards-{by}.csv"'
    return response


@role_required(*SCORE_READERS)
def non_responder_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    flagged = (Takedown.objects.filter(managers_flagged_at__isnull=False, removed_at__isnull=True)
               .select_related("item", "contact").order_by("managers_flagged_at")[:200])
    bounced = (Notice.objects.bounced_to_current_address().select_related("contact", "provider")
               .order_by("-bounced_at")[:200])
    return render(request, "takedown/non_responders.html", {
        "rows": [(card, cards.as_row(card, for_people=True)) for card in cards.non_responders(now=now)],
        "flagged": flagged, "bounced": bounced,
        "overdue": InfoRequest.objects.open().filter(deadline_at__lt=now).order_by("deadline_at")[:200]})


@role_required(*REQUEST_READERS)
def request_list(request: HttpRequest) -> HttpResponse:
    requests = InfoRequest.objects.all()
    state = request.GET.get("state", "")
    if state in RequestState.values:
        requests = requests.filter(state=state)
    page = Paginator(requests, 50).get_page(request.GET.get("page"))
    return render(request, "takedown/request_list.html", {
        "page": page, "state": state, "states": RequestState.choices,
        "can_write": current_user(request).has_role(*REQUEST_WRITERS)})


@require_http_methods(["GET", "POST"])
@role_required(*REQUEST_WRITERS)
def request_new(request: HttpRequest) -> HttpResponse:
    form = InfoRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data, user, now = form.cleaned_data, current_user(request), timezone.now()
        item = Item.objects.filter(pk=data["item"]).first() if data.get("item") else None
        try:
            created = create_info_request(NewRequest(
                kind=data["kind"], on_behalf_of=data["on_behalf_of"], company_name=data["company_name"],
                email=data["email"], subject_type=data["subject_type"], subject=data["subject"],
                legal_basis=data["legal_basis"], language=data["language"], item=item,
                police_reference=data["police_reference"], reminder_hours=data["reminder_hours"],
                deadline_at=now + timedelta(days=data["deadline_days"])), actor=Actor.of_user(user), now=now, user=user)
        except RequestInvalid as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, _("Request %(ref)s recorded; it goes out with the next worker step.")
                             % {"ref": created.reference})
            return redirect("takedown:request", pk=created.pk)
    return render(request, "takedown/request_new.html", {"form": form})


@role_required(*REQUEST_READERS)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    info = get_object_or_404(InfoRequest, pk=pk)
    can_write = current_user(request).has_role(*REQUEST_WRITERS)
    return render(request, "takedown/request_detail.html", {
        "r": info, "messages_sent": info.messages.order_by("created_at", "pk"),
        "form": AnswerForm() if can_write else None})


@require_POST
@role_required(*REQUEST_WRITERS)
def request_answer(request: HttpRequest, pk: int) -> HttpResponse:
    info = get_object_or_404(InfoRequest, pk=pk)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose the answer the company gave."))
        return redirect("takedown:request", pk=info.pk)
    record_answer(info, form.cleaned_data["outcome"], note=form.cleaned_data["note"],
                  actor=Actor.of_user(current_user(request)), now=timezone.now())
    messages.success(request, _("The answer is recorded."))
    return redirect("takedown:request", pk=info.pk)


@require_http_methods(["GET", "POST"])
def respond(request: HttpRequest) -> HttpResponse:
    """Public, no login: the signed link in a notice or request is the only credential."""
    token = request.GET.get("t", "")
    try:
        target = responding.resolve(token)
    except responding.RespondError as exc:
        return render(request, "takedown/respond.html", {"error": exc}, status=exc.status)
    form: RespondNoticeForm | RespondRequestForm = (
        RespondNoticeForm(request.POST or None) if target.notice else RespondRequestForm(request.POST or None))
    done = ""
    if request.method == "POST" and form.is_valid():
        action = form.cleaned_data.get("action") or form.cleaned_data.get("outcome", "")
        try:
            done = responding.act(target, action, note=form.cleaned_data.get("note", ""), now=timezone.now())
        except responding.RespondError as exc:
            return render(request, "takedown/respond.html", {"error": exc, "target": target}, status=exc.status)
    return render(request, "takedown/respond.html", {"target": target, "form": form, "done": done})
