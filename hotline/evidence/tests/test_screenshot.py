"""Screenshots rendered from the WARC with no network, stored encrypted, shown blurred, revealed
one at a time with an audit event; a screenshot failure never fails the capture."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client, override_settings
from django.urls import reverse
from PIL import Image

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.evidence import screenshot
from hotline.evidence.models import Capture
from hotline.evidence.services import CaptureConfig, capture_item
from hotline.evidence.steps import screenshot_step
from hotline.evidence.store import get_blob_bytes
from hotline.reports.models import Item, ItemStatus
from hotline.sim.web import SimWeb

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed")
Login = Callable[[User], Client]


def _page(sim: SimWeb) -> str:
    """A page whose image is captured (so in the WARC) and whose other references are not."""
    elsewhere = f"http://127.0.0.1:{sim.port}"
    other = sim.url("other.sim.test", "/")
    sim.set_page("blog.sim.test", "/shot-page", f"""<!doctype html><html><head><title>Shot</title>
      <link rel="stylesheet" href="{elsewhere}/style.css"><link rel="prefetch" href="{other}prefetched">
      <script src="{elsewhere}/script.js"></script></head>
      <body><h1>Synthetic page</h1><img src="/media/png-3.png" width="200">
      <iframe src="{other}framed"></iframe><object data="{elsewhere}/object.bin"></object></body></html>""")
    return sim.url("blog.sim.test", "/shot-page")


@pytest.mark.django_db
@pytest.mark.slow
@needs_chromium
@override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER=CHROMIUM)
def test_it_renders_the_page_from_the_warc_without_any_network_request(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]
) -> None:
    item = make_item(_page(sim), captured=False)
    capture = capture_item(item, config=capture_config)
    assert capture.screenshot_due_at is not None and capture.warc is not None
    seen_by_the_site = len(sim.requests)

    rendered = screenshot.render(get_blob_bytes(capture.warc), capture.final_url, browser=CHROMIUM)

    assert len(sim.requests) == seen_by_the_site  # the simulated web saw nothing: no second visit
    assert capture.final_url in rendered.answered and any(u.endswith("/media/png-3.png") for u in rendered.answered)
    assert set(rendered.answered) <= set(screenshot.warc_responses(get_blob_bytes(capture.warc)))
    assert any(u.endswith("/style.css") for u in rendered.refused)
    assert any("framed" in u for u in rendered.refused)
    assert not any(u.endswith("/script.js") for u in rendered.answered + rendered.refused)  # JavaScript is off
    image = Image.open(io.BytesIO(rendered.png))
    assert image.size == (screenshot.VIEWPORT["width"], screenshot.VIEWPORT["height"])


@pytest.mark.django_db
@pytest.mark.slow
@needs_chromium
@override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER=CHROMIUM)
def test_the_worker_step_stores_it_encrypted_once_and_audits_it(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]
) -> None:
    capture = capture_item(make_item(sim.url("gallery.sim.test", "/"), captured=False), config=capture_config)
    assert screenshot_step() is True
    capture.refresh_from_db()
    assert capture.screenshot is not None and capture.screenshot_due_at is None and not capture.screenshot_error
    assert get_blob_bytes(capture.screenshot).startswith(b"\x89PNG")
    assert screenshot_step() is False  # done: nothing due
    event = AuditEvent.objects.get(action="capture.screenshot_taken")
    assert event.after is not None and event.after["sha256"] == capture.screenshot.sha256


@pytest.mark.django_db
def test_a_screenshot_failure_is_recorded_and_never_fails_the_capture(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]
) -> None:
    with override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER="/bin/false"):
        capture = capture_item(make_item(sim.url("blog.sim.test", "/"), captured=False), config=capture_config)
        assert screenshot_step() is True
    capture.refresh_from_db()
    assert capture.outcome == "captured" and capture.item.status == ItemStatus.CAPTURED
    assert capture.screenshot is None and capture.screenshot_due_at is None and capture.screenshot_error
    assert AuditEvent.objects.filter(action="capture.screenshot_failed").count() == 1


@pytest.mark.django_db
def test_without_a_browser_nothing_is_scheduled_and_a_check_warns(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]
) -> None:
    with override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER="/nonexistent/chromium"):
        capture = capture_item(make_item(sim.url("blog.sim.test", "/page/2"), captured=False), config=capture_config)
        assert capture.screenshot_due_at is None and screenshot_step() is False
        assert [m.id for m in run_checks() if m.id == "hotline.W301"] == ["hotline.W301"]
    with override_settings(HOTLINE_SCREENSHOTS=False):
        assert not [m for m in run_checks() if m.id == "hotline.W301"]


@pytest.mark.django_db
def test_a_failed_capture_gets_no_screenshot(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]
) -> None:
    with override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER=CHROMIUM):
        capture = capture_item(make_item(sim.url("blog.sim.test", "/status/404"), captured=False),
                               config=capture_config)
    assert capture.failed and capture.screenshot_due_at is None


def _with_screenshot(item: Item, make_media: Any, seed: int = 5) -> Capture:
    media = make_media(item, seed=seed)
    capture: Capture = media.capture
    capture.screenshot = media.blob
    capture.save(update_fields=["screenshot"])
    return capture


@pytest.mark.django_db(transaction=True)
def test_it_is_shown_blurred_and_revealed_one_at_a_time_with_an_audit_event(
    login: Login, analyst: User, police: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item()
    capture = _with_screenshot(item, make_media)
    media = make_media(item, seed=2)
    client = login(analyst)
    blurred = client.get(reverse("evidence:screenshot", kwargs={"pk": capture.pk}))
    assert blurred.status_code == 200 and "no-store" in blurred["Cache-Control"]
    assert Image.open(io.BytesIO(blurred.content)).mode == "L"
    sharp_url = reverse("evidence:screenshot_revealed", kwargs={"pk": capture.pk})
    assert client.get(sharp_url).status_code == 403

    client.post(reverse("evidence:screenshot_reveal", kwargs={"pk": capture.pk}))
    sharp = client.get(sharp_url)
    assert sharp.status_code == 200 and Image.open(io.BytesIO(sharp.content)).mode == "RGB"
    assert client.get(reverse("evidence:revealed", kwargs={"pk": media.pk})).status_code == 403

    client.post(reverse("evidence:reveal", kwargs={"pk": media.pk}))  # one slot: the screenshot blurs again
    assert client.get(sharp_url).status_code == 403
    event = AuditEvent.objects.get(action="capture.screenshot_revealed")
    assert capture.screenshot is not None and event.actor_user_id == analyst.pk
    assert event.after == {"capture": capture.pk, "sha256": capture.screenshot.sha256}
    assert login(police).get(reverse("evidence:screenshot", kwargs={"pk": capture.pk})).status_code == 403


@pytest.mark.django_db
@pytest.mark.slow
@needs_chromium
def test_a_browser_closed_under_the_batch_gives_browser_gone_for_the_rest(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or a service stop reaches Chromium too: the page being rendered and the ones after it are not
    the pages' fault, and say so."""
    with override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER=CHROMIUM):
        capture = capture_item(make_item(sim.url("gallery.sim.test", "/"), captured=False), config=capture_config)
    assert capture.warc is not None
    job = (get_blob_bytes(capture.warc), capture.final_url)
    render_one = screenshot._render_one
    calls: list[int] = []

    def render_then_close(chromium: Any, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            chromium.close()  # the browser goes away before the second page
        return render_one(chromium, *args)

    monkeypatch.setattr(screenshot, "_render_one", render_then_close)
    results = screenshot.render_many([job, job, job], browser=CHROMIUM)
    assert isinstance(results[0], screenshot.Rendered) and results[0].png.startswith(b"\x89PNG")
    assert [type(r) for r in results[1:]] == [screenshot.BrowserGone] * 2 and len(calls) == 2


@pytest.mark.django_db
def test_a_capture_whose_browser_went_away_is_tried_again_then_recorded_as_failed(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from hotline.evidence.services import screenshots

    with override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER="/bin/true"):
        capture = capture_item(make_item(sim.url("blog.sim.test", "/page/3"), captured=False), config=capture_config)
    monkeypatch.setattr(screenshots, "render_many", lambda jobs, browser: [
        screenshot.BrowserGone("the browser closed")] * len(jobs))
    now = timezone.now()
    for attempt in (1, 2):
        now += timedelta(minutes=10)
        claimed = screenshot.claim_due(now, 8)
        assert [c.pk for c in claimed] == [capture.pk]
        screenshots.take_screenshots(claimed, now=now)
        capture.refresh_from_db()
        assert capture.screenshot_due_at == now + screenshots.RETRY_AFTER, attempt
        assert capture.screenshot_error.endswith(f"(attempt {attempt} of 3)")
        assert capture.screenshot_browser_gone == attempt
        assert not AuditEvent.objects.filter(action="capture.screenshot_failed").exists()
    now += timedelta(minutes=10)
    screenshots.take_screenshots(screenshot.claim_due(now, 8), now=now)
    capture.refresh_from_db()  # the third time the browser goes away on it: a failure, as any other
    assert capture.screenshot_due_at is None and "browser closed" in capture.screenshot_error
    assert capture.screenshot_browser_gone == 3
    assert AuditEvent.objects.filter(action="capture.screenshot_failed").count() == 1


@pytest.mark.django_db
def test_a_playwright_driver_gone_mid_batch_leaves_the_captures_due(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C reaches Playwright's driver process too: what escapes the rendering then is not the pages' fault."""
    from django.utils import timezone

    from hotline.evidence.services import screenshots

    with override_settings(HOTLINE_SCREENSHOTS=True, HOTLINE_BROWSER="/bin/true"):
        capture = capture_item(make_item(sim.url("blog.sim.test", "/page/4"), captured=False), config=capture_config)

    def driver_gone(jobs: Any, browser: str) -> Any:
        raise Exception("Connection closed while reading from the driver")  # as Playwright raises it

    monkeypatch.setattr(screenshots, "render_many", driver_gone)
    now = timezone.now()
    screenshots.take_screenshots([capture], now=now)
    capture.refresh_from_db()
    assert capture.screenshot_due_at == now + screenshots.RETRY_AFTER and capture.screenshot_error.endswith(
        "(attempt 1 of 3)")
    assert not AuditEvent.objects.filter(action="capture.screenshot_failed").exists()
