"""A report without a URL in a real browser (Chromium via Playwright, on loopback): the Dutch form shows
help before anything is sent, takes a generated screenshot, and the report lands in the support queue,
never in the URL queue. Screenshots: ``artifacts/screenshots/incident-*.png``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from hotline.assessment.models import Incident
from hotline.core.tests.conftest import save_shot
from hotline.evidence.backends import storage_from_settings
from hotline.reports.models import Item, Report
from hotline.sim.images import make_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(autouse=True)
def _contacts(settings: Any) -> Iterator[None]:
    settings.HOTLINE_SUPPORT_CONTACTS = json.dumps([
        {"name": {"en": "Test helpline", "nl": "Testhulplijn", "fr": "Ligne d'aide test"}, "phone": "0000 00 00",
         "url": "https://help.example.test/"}])
    cache.clear()
    yield
    cache.clear()


def test_the_dutch_form_helps_at_once_and_files_a_report_without_a_url(page: Any, tmp_path: Path) -> None:
    page.goto("/nl/report/")
    page.click("#no-link a")
    page.wait_for_url("**/nl/report/without-link/")
    assert page.locator("html").get_attribute("lang") == "nl"
    # Help comes first, before the form: the configured helpline, in Dutch.
    support = page.locator("#support")
    assert support.locator("h2").inner_text() == "Nu hulp"
    assert "Testhulplijn" in support.inner_text()
    assert support.bounding_box()["y"] < page.locator("#incident-form").bounding_box()["y"]
    screenshot = tmp_path / "gesprek.png"
    original = make_image("png", 11, size=(320, 200))
    screenshot.write_bytes(original)
    page.get_by_label("Iemand dreigt beelden van mij").check()
    page.get_by_label("Het gebeurt nu").check()
    page.get_by_label("Wat is er gebeurd?").fill("Een account in een spel dreigt een foto te delen.")
    page.get_by_label("Welke app, game of website?").fill("SpelChat")
    page.get_by_label("Accountnamen of profiellinks").fill("speler_x.example.test")
    page.set_input_files("#id_screenshots", str(screenshot))
    save_shot(page, "incident-1-form-nl", full_page=True)
    page.click("#incident-form button[type=submit]")
    reference = page.locator(".reference").inner_text()
    assert "Testhulplijn" in page.locator("#support").inner_text()
    save_shot(page, "incident-2-thanks-nl", full_page=True)
    report = Report.objects.get(reference=reference)
    incident = Incident.objects.get(report=report)
    assert (report.kind, report.language, report.url_count) == ("sextortion", "nl", 0)
    assert (incident.urgency, incident.platform, incident.accounts) == (2, "SpelChat", "speler_x.example.test")
    blob = incident.screenshots.get().blob
    assert blob is not None and blob.size == len(original)
    assert storage_from_settings().get(blob.storage_name) != original
    assert Item.objects.count() == 0
