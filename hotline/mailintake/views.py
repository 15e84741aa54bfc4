"""Received mails and their outcomes (managers, senior analysts), and the sender allow-list (managers,
administrators). Mail bodies are shown only on request, audited; attachments never."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from hotline.accounts.access import current_user, role_required
from hotline.accounts.models import Role
from hotline.audit.services import Actor
from hotline.mailintake import services
from hotline.mailintake.forms import SenderForm
from hotline.mailintake.models import AllowedSender, InboundMail, MailboxState, Outcome

MAIL_READERS = (Role.MANAGER, Role.SENIOR_ANALYST)
SENDER_EDITORS = (Role.MANAGER, Role.ADMIN)
T = TypeVar("T")


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(current_user(request))


@role_required(*MAIL_READERS)
def mail_list(request: HttpRequest) -> HttpResponse:
    mails = InboundMail.objects.select_related("report").order_by("-received_at", "-pk")
    outcome = request.GET.get("outcome", "")
    if outcome in Outcome.values:
        mails = mails.filter(outcome=outcome)
    page = Paginator(mails, 50).get_page(request.GET.get("page"))
    return render(request, "mailintake/mail_list.html", {
        "page": page, "outcome": outcome, "outcomes": Outcome.choices,
        "mailboxes": MailboxState.objects.order_by("key"),
    })


def _mail(pk: int) -> InboundMail:
    mail: InboundMail = get_object_or_404(InboundMail.objects.select_related("report", "allowed_sender"), pk=pk)
    return mail


@role_required(*MAIL_READERS)
def mail_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "mailintake/mail_detail.html", {"mail": _mail(pk), "texts": None})


@require_POST
@role_required(*MAIL_READERS)
def mail_text(request: HttpRequest, pk: int) -> HttpResponse:
    mail = _mail(pk)
    texts = services.read_mail_text(mail, actor=_actor(request))
    return render(request, "mailintake/mail_detail.html", {"mail": mail, "texts": texts})


@role_required(*SENDER_EDITORS)
def sender_list(request: HttpRequest) -> HttpResponse:
    senders = AllowedSender.objects.order_by("organisation", "address")
    return render(request, "mailintake/sender_list.html", {"senders": senders})


def _run(form: SenderForm, call: Callable[[], T]) -> tuple[bool, T | None]:
    """Run the service; when it refuses, put its complaint next to the field it names."""
    try:
        return True, call()
    except services.InvalidSender as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return False, None


def _saved(request: HttpRequest, sender: AllowedSender, token: str | None) -> HttpResponse:
    if token:
        return render(request, "mailintake/sender_token.html", {"sender": sender, "token": token})
    messages.success(request, _("Saved."))
    return redirect("mailintake:senders")


@require_http_methods(["GET", "POST"])
@role_required(*SENDER_EDITORS)
def sender_new(request: HttpRequest) -> HttpResponse:
    form = SenderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, added = _run(form, lambda: services.add_sender(
            data["address"], organisation=data["organisation"], source=data["source"],
            trust_method=data["trust_method"], actor=_actor(request)))
        if ok and added is not None:
            return _saved(request, *added)
    return render(request, "mailintake/sender_form.html", {"form": form, "sender": None})


@require_http_methods(["GET", "POST"])
@role_required(*SENDER_EDITORS)
def sender_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sender = get_object_or_404(AllowedSender, pk=pk)
    initial = {"organisation": sender.organisation, "source": sender.source,
               "trust_method": sender.trust_method, "is_active": sender.is_active}
    form = SenderForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, token = _run(form, lambda: services.change_sender(
            sender, organisation=data["organisation"], source=data["source"], trust_method=data["trust_method"],
            is_active=data["is_active"], actor=_actor(request)))
        if ok:
            return _saved(request, sender, token)
    return render(request, "mailintake/sender_form.html", {"form": form, "sender": sender})


@require_POST
@role_required(*SENDER_EDITORS)
def sender_token(request: HttpRequest, pk: int) -> HttpResponse:
    sender = get_object_or_404(AllowedSender, pk=pk)
    token = services.issue_token(sender, actor=_actor(request))
    return render(request, "mailintake/sender_token.html", {"sender": sender, "token": token})
