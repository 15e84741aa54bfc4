from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageFilter, ImageStat

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.evidence import welfare
from hotline.evidence.models import Exposure
from hotline.reports.models import Item

# Transactional: views must open their own transactions (the audit refuses to write outside one).
pytestmark = pytest.mark.django_db(transaction=True)
Login = Callable[[User], Client]


def _sharpness(png: bytes) -> float:
    image = Image.open(io.BytesIO(png)).convert("L").resize((160, 120))
    return float(ImageStat.Stat(image.filter(ImageFilter.FIND_EDGES)).mean[0])


def _checkerboard() -> bytes:
    image = Image.new("RGB", (320, 240), "white")
    for x in range(0, 320, 16):
        for y in range(0, 240, 16):
            if (x + y) // 16 % 2:
                image.paste((20, 60, 160), (x, y, x + 16, y + 16))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_previews_are_blurred_greyscale_and_never_cached(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    media = make_media(make_item(), seed=5)
    response = login(analyst).get(reverse("evidence:thumbnail", kwargs={"pk": media.pk}))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    assert Image.open(io.BytesIO(response.content)).mode == "L"


def test_one_reveal_at_a_time_each_audited(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item()
    first, second = make_media(item, data=_checkerboard()), make_media(item, seed=2)
    client = login(analyst)
    revealed_url = reverse("evidence:revealed", kwargs={"pk": first.pk})
    assert client.get(revealed_url).status_code == 403
    client.post(reverse("evidence:reveal", kwargs={"pk": first.pk}))
    sharp = client.get(revealed_url)
    assert sharp.status_code == 200 and "no-store" in sharp["Cache-Control"]
    blurred = client.get(reverse("evidence:thumbnail", kwargs={"pk": first.pk}))
    assert _sharpness(sharp.content) > 3 * _sharpness(blurred.content)
    client.post(reverse("evidence:reveal", kwargs={"pk": second.pk}))
    assert client.get(revealed_url).status_code == 403  # revealing another hides the first
    events = AuditEvent.objects.filter(action="media.revealed").order_by("seq")
    assert [(e.object_id, e.actor_label) for e in events] == [(str(first.pk), "user:ana"), (str(second.pk), "user:ana")]
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert client.get(reverse("evidence:revealed", kwargs={"pk": second.pk})).status_code == 403


def test_the_item_page_shows_blurred_media_with_a_strict_csp(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item()
    media = make_media(item)
    response = login(analyst).get(reverse("assessment:item", kwargs={"pk": item.pk}))
    page = response.content.decode()
    assert reverse("evidence:thumbnail", kwargs={"pk": media.pk}) in page
    assert "script-src 'self'" in response["Content-Security-Policy"] and "unsafe-inline" not in response[
        "Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action="item.media_viewed").count() == 1


def test_managers_and_police_see_no_media(
    login: Login, manager: User, police: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    media = make_media(make_item())
    for user in (manager, police):
        assert login(user).get(reverse("evidence:thumbnail", kwargs={"pk": media.pk})).status_code == 403


@override_settings(HOTLINE_VIEWING_BUDGET_MINUTES=10, HOTLINE_BREAK_AFTER_MINUTES=6, HOTLINE_BREAK_MINUTES=5)
def test_viewing_time_is_counted_and_the_budget_and_breaks_hold(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    media = make_media(make_item())
    start = timezone.now().replace(hour=9, minute=0)
    with time_machine.travel(start, tick=False):
        welfare.note_viewing(analyst, timezone.now())
    for minute in range(1, 8):  # a page open for 7 minutes, heartbeat every minute
        state = welfare.note_viewing(analyst, start + timedelta(minutes=minute))
    assert state.seconds_today == 7 * 60 and state.break_due and not state.over_budget
    state = welfare.note_viewing(analyst, start + timedelta(minutes=30))  # idle gap: capped, new streak
    assert state.seconds_today == 12 * 60 and not state.break_due and state.over_budget
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        client = login(analyst)
        client.post(reverse("evidence:reveal", kwargs={"pk": media.pk}))
        assert client.get(reverse("evidence:revealed", kwargs={"pk": media.pk})).status_code == 403
    assert not AuditEvent.objects.filter(action="media.revealed").exists()


def test_managers_see_exposure_per_analyst(
    login: Login, manager: User, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)  # exposure is per UTC day
    with time_machine.travel(noon, tick=False):
        welfare.note_viewing(analyst, noon)
        welfare.note_viewing(analyst, noon + timedelta(minutes=2))
        assert Exposure.objects.get(user=analyst).seconds == 120
        page = login(manager).get(reverse("evidence:exposure")).content.decode()
    assert 'data-user="ana"' in page


def test_a_video_preview_is_a_blurred_contact_sheet(
    login: Login, analyst: User, make_item: Callable[..., Item], sim: Any, capture_config: Any
) -> None:
    from hotline.evidence.models import Media
    from hotline.evidence.services import capture_item

    item = make_item(sim.url("blog.sim.test", "/"), captured=False)
    capture_item(item, config=capture_config)
    clip = Media.objects.get(item=item, kind="video")
    assert clip.vpdq and clip.duration and clip.duration > 0
    response = login(analyst).get(reverse("evidence:thumbnail", kwargs={"pk": clip.pk}))
    sheet = Image.open(io.BytesIO(response.content))
    assert response.status_code == 200 and sheet.mode == "L" and sheet.width >= 160


@pytest.mark.parametrize("prefix,reveal,media", [("/nl", "Tonen", "Media"), ("/fr", "Afficher", "Médias")])
def test_the_media_panel_speaks_dutch_and_french(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any, prefix: str, reveal: str,
    media: str
) -> None:
    item = make_item()
    make_media(item)
    page = login(analyst).get(f"{prefix}/items/{item.pk}/").content.decode()
    assert f">{reveal}</button>" in page and f"<h2>{media} " in page


def test_known_content_is_never_shown_again_not_even_blurred(
    login: Any, analyst: Any, make_item: Any, make_media: Any
) -> None:
    item = make_item()
    media = make_media(item, seed=2)
    media.inherited_verdict, media.inherited_from = "baseline", "Partner list (entry 1, sha256)"
    media.save()
    client = login(analyst)
    assert client.get(reverse("evidence:thumbnail", args=[media.pk])).status_code == 403
    assert client.post(reverse("evidence:reveal", args=[media.pk])).status_code == 403
    assert client.get(reverse("evidence:revealed", args=[media.pk])).status_code == 403
    from hotline.audit.models import AuditEvent

    assert not AuditEvent.objects.filter(action="media.revealed").exists()
