"""Real-browser checks (Playwright driving Debian's Chromium, headless, on loopback).

Screenshots land in ``artifacts/screenshots/``. The ``browser`` and ``page`` fixtures are in conftest.py
(shared with test_browser_flows.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.conftest import PASSWORD
from hotline.reports.models import Item, ItemStatus, Report

SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _shot(tab: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(tab: Any, username: str) -> None:
    tab.goto("/accounts/login/")
    tab.fill("#id_username", username)
    tab.fill("#id_password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_load_state()
    # The second factor, with the test playing the authenticator app (pyotp).
    import pyotp

    from hotline.accounts.models import TOTPDevice

    enrolling = "/accounts/enrol/" in tab.url
    if enrolling:  # first login: the QR code and the typed key are on the page
        assert tab.locator(".qr svg").count() == 1
        _shot(tab, "second-factor-enrol")
        secret = tab.locator("#totp-secret").inner_text().replace(" ", "")
    else:
        secret = TOTPDevice.objects.get(user__username=username).secret
    tab.fill("#id_code", pyotp.TOTP(secret).now())
    tab.click("button[type=submit]")
    tab.wait_for_load_state()
    if enrolling:
        assert tab.locator(".recovery-codes li").count() == 10
        tab.click("#continue")
        tab.wait_for_load_state()
    assert "/accounts/" not in tab.url, tab.url


def test_an_analyst_claims_assesses_with_media_blurred_and_reveals_one(
    page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item("http://browser-test.sim.test/album/1/")
    media = make_media(item, seed=2)
    _login(page, "ana")
    page.goto("/queue/")
    page.click("text=Take the next item")
    page.wait_for_selector(f"#media-{media.pk} img")
    preview = page.locator(f"#media-{media.pk} img")
    assert "preview.png" in preview.get_attribute("src")
    assert page.evaluate("el => el.naturalWidth", preview.element_handle()) > 0  # the image really loaded
    _shot(page, "item-blurred")
    page.click(f"#media-{media.pk} button:has-text('Reveal')")
    page.wait_for_selector(f"#media-{media.pk} img.revealed")
    _shot(page, "item-revealed")
    assert AuditEvent.objects.filter(action="media.revealed", object_id=str(media.pk)).count() == 1
    page.check("input[name=verdict][value=baseline]")
    page.check("input[name=legal_limb][value=real_minor]")
    page.select_option("select[name=content_type]", "image")
    page.select_option("select[name=age_group]", "prepubescent")
    page.click("button:has-text('Save assessment')")
    page.wait_for_url("**/queue/")
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "baseline")


@pytest.mark.parametrize("lang,title", [("nl", "Illegale beelden van kinderen melden"),
                                        ("fr", "Signaler des images illégales d'enfants")])
def test_the_public_form_works_in_dutch_and_french(page: Any, lang: str, title: str) -> None:
    page.goto(f"/{lang}/report/")
    assert page.locator("h1").inner_text() == title
    page.fill("textarea[name=urls]", f"http://{lang}-form.sim.test/page/1")
    page.click("button[type=submit]")
    reference = page.locator(".reference").inner_text()
    _shot(page, f"public-form-{lang}")
    report = Report.objects.get(reference=reference)
    assert report.language == lang and report.source == "public"
