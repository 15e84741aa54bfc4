"""The police liaison desk in a real browser (Chromium via Playwright, on loopback): the referrals list filtered
and paged, a referral with its answer form on the same page (a refused answer shows its error there), and the
evidence package downloaded from the referral page and from the item (each download audited).

Screenshots: ``artifacts/screenshots/desk-*.png``. Every URL is on a ``.sim.test`` host, every image a generated
pattern, every verdict a label.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.core.tests.conftest import browser, new_tab, page, save_shot  # noqa: F401 - the shared browser fixtures
from hotline.core.tests.test_browser_flows import enrolled, sign_in
from hotline.evidence.bag import verify_bag
from hotline.partners.models import PoliceContact
from hotline.reports.models import Item
from hotline.routing.models import PoliceAnswer, Referral
from hotline.routing.services import record_police_answer, refer_items

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def shot(tab: Any, name: str) -> None:
    save_shot(tab, f"desk-{name}", full_page=True)


@pytest.fixture
def desk(assessed: Callable[..., Item], make_media: Any) -> dict[str, Any]:
    """30 referrals to the national unit: 2 answered, 27 sent and waiting, the newest not sent yet."""
    unit = PoliceContact.objects.create(name="National unit (simulated)", country="BE", kind="national",
                                        email="unit@police.example")
    now = timezone.now()
    rows = []
    for i in range(30):
        item = assessed("baseline", f"https://gallery-{i:02d}.sim.test/album/{i}")
        rows.append(refer_items([item], unit, actor=SYSTEM, now=now - timedelta(hours=i),
                                hold_until=now + timedelta(hours=48 - i)))
    Referral.objects.exclude(pk=rows[0].pk).update(status="sent", sent_at=now)
    record_police_answer(rows[5], PoliceAnswer.RELEASE, actor=SYSTEM, now=now)
    record_police_answer(rows[6], PoliceAnswer.ACCEPTED, actor=SYSTEM, now=now)
    make_media(rows[0].items.get(), seed=11)
    return {"rows": rows, "newest": rows[0], "item": rows[0].items.get()}


def _rows(tab: Any) -> int:
    count: int = tab.locator("table.referrals tbody tr[data-referral]").count()
    return count


def test_the_police_liaison_filters_pages_answers_and_downloads(
        page: Any, police: User, desk: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    sign_in(page, enrolled(police))
    page.goto("/referrals/")
    assert _rows(page) == 25 and "page 1 of 2" in page.locator(".pager").inner_text()
    assert "https://gallery-00.sim.test/album/0" in page.locator("table.referrals").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1200, width  # the table fits the window: no sideways scrolling
    shot(page, "1-referrals")
    page.select_option("#id_state", "awaiting")
    page.click("#referral-filters button[type=submit]")
    page.wait_for_url("**state=awaiting**")
    assert _rows(page) == 25
    page.click(".pager >> text=next")
    page.wait_for_url("**page=2**")
    assert _rows(page) == 2 and "state=awaiting" in page.url  # the filter survives paging
    page.select_option("#id_state", "answered")
    page.click("#referral-filters button[type=submit]")
    page.wait_for_url("**state=answered**")
    assert _rows(page) == 2
    shot(page, "2-answered")

    newest = desk["newest"]
    page.goto(f"/referrals/{newest.pk}/")
    page.select_option("#id_answer", "hold")
    page.click("#answer-form button[type=submit]")
    page.wait_for_load_state()
    assert "a hold needs an end in the future" in page.locator("#answer-form").inner_text()
    shot(page, "3-refused-answer")
    page.select_option("#id_answer", "release")
    page.click("#answer-form button[type=submit]")
    page.wait_for_url(f"**/referrals/{newest.pk}/")
    assert "police answer is recorded" in page.locator(".messages").inner_text()
    assert "ended" in page.locator("#hold").inner_text()

    with page.expect_download() as download:
        page.click("#download-package button[type=submit]")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with tarfile.open(saved) as tar:
        tar.extractall(tmp_path / "referral", filter="data")
    assert verify_bag(next((tmp_path / "referral").iterdir())).ok
    shot(page, "4-referral")

    item = desk["item"]
    page.goto(f"/items/{item.pk}/")
    page.click("text=Evidence package")
    page.wait_for_url(f"**/items/{item.pk}/routing/**")
    with page.expect_download() as download:
        page.click("#download-item-package button[type=submit]")
    assert download.value.suggested_filename == f"item-{item.pk}.tar"
    shot(page, "5-item-package")
    downloads = AuditEvent.objects.filter(action="routing.package_downloaded", actor_user_id=police.pk)
    assert downloads.count() == 2


def test_the_desk_reads_in_dutch(page: Any, police: User, desk: dict[str, Any]) -> None:  # noqa: F811
    sign_in(page, enrolled(police))
    page.goto("/nl/referrals/?state=awaiting")
    text = page.locator("main").inner_text()
    assert "Wacht op het antwoord van de politie" in text and "Bewijsbewaring tot" in text
    shot(page, "6-referrals-nl")
