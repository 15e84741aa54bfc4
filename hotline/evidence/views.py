"""Analyst-safe viewing: blurred greyscale previews by default, one audited reveal at a time,
viewing time counted against the daily budget. Every response is no-store."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from hotline.accounts.access import current_user, recent_auth_required, role_required
from hotline.accounts.models import Role
from hotline.evidence import previews, services, welfare
from hotline.evidence.models import Capture, Exposure, Media

MEDIA_VIEWERS = (Role.ANALYST, Role.SENIOR_ANALYST)
REVEAL_SECONDS = 120
_REVEALED = "revealed_media"


def _media(pk: int) -> Media:
    """The media file ``pk``; known content (a verdict inherited from a bank) is never shown again."""
    media: Media = get_object_or_404(Media.objects.select_related("blob", "item"), pk=pk, blob__isnull=False)
    if media.inherited_verdict:
        raise PermissionDenied(_("Known content is not shown again."))
    return media


def _png(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "no-store, private"
    response["Content-Disposition"] = "inline"
    return response


def revealed_id(request: HttpRequest, kind: str = "media") -> int | None:
    """The one media item (or capture screenshot, ``kind="screenshot"``) this analyst revealed and
    may still see unblurred; a single slot, so revealing one thing blurs the previous one again."""
    entry = request.session.get(_REVEALED)
    if not entry or entry.get("until", 0) < timezone.now().timestamp() or entry.get("kind", "media") != kind:
        return None
    value: int = entry["id"]
    return value


def _screenshot_capture(pk: int) -> Capture:
    capture: Capture = get_object_or_404(Capture.objects.select_related("screenshot"), pk=pk,
                                         screenshot__isnull=False)
    return capture


@never_cache
@role_required(*MEDIA_VIEWERS)
def thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    return _png(previews.preview_png(_media(pk), blur=True))


@never_cache
@role_required(*MEDIA_VIEWERS)
def revealed(request: HttpRequest, pk: int) -> HttpResponse:
    """The unblurred preview, only for the one media item this analyst just revealed."""
    if revealed_id(request) != pk:
        return HttpResponseForbidden(_("Reveal this media item first."))
    return _png(previews.preview_png(_media(pk), blur=False))


@require_POST
@role_required(*MEDIA_VIEWERS)
@recent_auth_required
def reveal(request: HttpRequest, pk: int) -> HttpResponse:
    media = _media(pk)
    now = timezone.now()
    try:
        services.reveal_media(media, user=current_user(request), now=now)
    except services.RevealRefused:
        messages.error(request, _("You have reached today's viewing time. Media stay blurred until tomorrow."))
        return redirect("assessment:item", pk=media.item_id)
    request.session[_REVEALED] = {"id": media.pk, "until": (now + timedelta(seconds=REVEAL_SECONDS)).timestamp()}
    return redirect(f"{reverse('assessment:item', kwargs={'pk': media.item_id})}#media-{media.pk}")


@never_cache
@role_required(*MEDIA_VIEWERS)
def screenshot_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    return _png(previews.screenshot_png(_screenshot_capture(pk), blur=True))


@never_cache
@role_required(*MEDIA_VIEWERS)
def screenshot_revealed(request: HttpRequest, pk: int) -> HttpResponse:
    """The sharp screenshot, only for the one capture whose screenshot this analyst just revealed."""
    if revealed_id(request, "screenshot") != pk:
        return HttpResponseForbidden(_("Reveal this screenshot first."))
    return _png(previews.screenshot_png(_screenshot_capture(pk), blur=False))


@require_POST
@role_required(*MEDIA_VIEWERS)
@recent_auth_required
def screenshot_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    capture = _screenshot_capture(pk)
    now = timezone.now()
    try:
        services.reveal_screenshot(capture, user=current_user(request), now=now)
    except services.RevealRefused:
        messages.error(request, _("You have reached today's viewing time. Media stay blurred until tomorrow."))
        return redirect("assessment:item", pk=capture.item_id)
    request.session[_REVEALED] = {"id": capture.pk, "kind": "screenshot",
                                  "until": (now + timedelta(seconds=REVEAL_SECONDS)).timestamp()}
    return redirect(f"{reverse('assessment:item', kwargs={'pk': capture.item_id})}#capture-context")


@require_POST
@role_required(*MEDIA_VIEWERS)
def heartbeat(request: HttpRequest) -> JsonResponse:
    """Called every minute by the media page's script while it stays open."""
    state = welfare.note_viewing(current_user(request), timezone.now())
    return JsonResponse({"minutes_left": state.minutes_left, "break_due": state.break_due,
                         "over_budget": state.over_budget})


@role_required(Role.MANAGER)
def exposure_report(request: HttpRequest) -> HttpResponse:
    since = timezone.now().date() - timedelta(days=13)
    rows = Exposure.objects.filter(day__gte=since).select_related("user").order_by("user__username", "-day")
    return render(request, "evidence/exposure.html", {"rows": rows, "since": since,
                                                      "budget": welfare.current(current_user(request),
                                                                                timezone.now()).budget_seconds // 60})
