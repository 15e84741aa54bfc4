"""The analyst's workbench in a real browser: keys only, for a mixed two-file page, known content and an
unreachable item; an audited reveal keeps the choices made so far; screenshots in NL and FR.

Every URL is on a ``.sim.test`` host, every image a generated pattern, every verdict a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.audit.models import AuditEvent
from hotline.core.tests.conftest import save_shot
from hotline.core.tests.test_browser_flows import enrolled, sign_in
from hotline.evidence.models import Capture, Media
from hotline.hashes.models import Bank, Entry, MediaMatch
from hotline.reports.models import Item, ItemStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def known(media: Media, verdict: str = "baseline") -> Media:
    """Mark ``media`` as known content, matched exactly in a trusted partner list."""
    bank = Bank.objects.get_or_create(name="Partner list (simulated)", defaults={"kind": "partner", "trusted": True})[0]
    entry = Entry.objects.create(bank=bank, signal_type="sha256", value=media.sha256, verdict=verdict,
                                 classification=verdict, source_id="SIM-0042", added_at=timezone.now())
    MediaMatch.objects.create(media=media, entry=entry, bank=bank, signal_type="sha256", distance=0,
                              matched_at=timezone.now())
    media.inherited_verdict, media.inherited_from = verdict, f"{bank.name} (entry {entry.pk}, sha256)"
    media.save(update_fields=["inherited_verdict", "inherited_from"])
    return media


def take_next(tab: Any, item: Item) -> None:
    tab.goto("/queue/")
    tab.click("text=Take the next item")
    tab.wait_for_url(f"**/items/{item.pk}/")


def test_it_classifies_a_mixed_page_file_by_file_with_keys(
    page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item("http://bench-mixed.sim.test/album/1/")
    first, second = make_media(item, seed=2), make_media(item, seed=5)
    sign_in(page, enrolled(analyst))
    take_next(page, item)
    assert page.locator(f"#media-{first.pk}").evaluate("el => el.classList.contains('current')")
    # Only the verdict shows until one is chosen.
    assert page.locator(f"#media-{first.pk} [data-field=age_group]").is_hidden()
    page.keyboard.press("1")
    assert page.locator(f"#media-{first.pk} [data-field=age_group]").is_visible()
    assert page.locator(f"#media-{first.pk} [data-field=reason]").is_hidden()
    page.check(f"input[name=m{first.pk}-age_group][value=prepubescent]")
    page.keyboard.press("j")
    page.keyboard.press("3")
    reasons = page.locator(f"#media-{second.pk} [data-reason-for=not_illegal]:visible")
    unavailable = page.locator(f"#media-{second.pk} [data-reason-for=unreachable]:visible")
    assert reasons.count() > 0 and unavailable.count() == 0
    page.check(f"input[name=m{second.pk}-reason][value=adult_pornography]")
    page.keyboard.press("s")
    page.wait_for_url("**/queue/")
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "baseline")
    rows = dict(MediaAssessment.objects.values_list("media_id", "verdict"))
    assert rows == {first.pk: "baseline", second.pk: "not_illegal"}
    row = MediaAssessment.objects.get(media=first)
    assert (row.legal_limb, row.content_type, row.age_group) == ("real_minor", "image", "prepubescent")


def test_known_content_is_not_shown_again_and_one_key_saves_it(
    page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any, settings: Any
) -> None:
    settings.HOTLINE_AUTO_ASSESS_KNOWN = False
    item = make_item("http://bench-known.sim.test/gallery/3/")
    media = known(make_media(item, seed=2))
    sign_in(page, enrolled(analyst))
    take_next(page, item)
    card = page.locator(f"#media-{media.pk}")
    assert "Not shown again" in card.inner_text() and "SIM-0042" in card.inner_text()
    assert card.locator("img").count() == 0  # not even blurred
    assert AuditEvent.objects.filter(action="item.media_viewed").count() == 0  # nothing was shown
    page.keyboard.press("s")
    page.wait_for_url("**/queue/")
    item.refresh_from_db()
    assert item.verdict == "baseline"
    assert MediaAssessment.objects.get(media=media).inherited


def test_an_unreachable_item_takes_two_keys(page: Any, analyst: User, make_item: Callable[..., Item]) -> None:
    item = make_item("http://bench-gone.sim.test/x/", captured=False)
    now = timezone.now()
    Capture.objects.create(item=item, started_at=now, finished_at=now, outcome="failed",
                           requested_url=item.canonical_url, failure_code="http_404",
                           failure_reason="the server answered 404", reason_code="site_down")
    fields = item.transition(ItemStatus.UNREACHABLE, now=now)
    item.next_capture_at = None
    item.save(update_fields=[*fields, "next_capture_at"])
    sign_in(page, enrolled(analyst))
    take_next(page, item)
    page.keyboard.press("4")
    assert page.locator("input[name=reason][value=site_down]").is_checked()  # from the failed capture
    assert page.locator("[data-reason-for=not_illegal]:visible").count() == 0
    page.keyboard.press("s")
    page.wait_for_url("**/queue/")
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "unreachable")
    assert Assessment.objects.get(item=item).reason == "site_down"


def test_a_reveal_by_key_is_audited_and_keeps_the_choices_made(
    page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item("http://bench-reveal.sim.test/album/2/")
    first, second = make_media(item, seed=2), make_media(item, seed=5)
    sign_in(page, enrolled(analyst))
    take_next(page, item)
    page.keyboard.press("3")
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.wait_for_selector(f"#media-{second.pk} img.revealed")
    assert page.locator(f"#media-{first.pk} img.revealed").count() == 0  # one at a time
    assert page.locator(f"input[name=m{first.pk}-verdict][value=not_illegal]").is_checked()
    assert AuditEvent.objects.filter(action="media.revealed", object_id=str(second.pk)).count() == 1


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_it_screenshots_the_workbench(
    lang: str, page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any, settings: Any
) -> None:
    from hotline.reports.models import Report

    settings.HOTLINE_AUTO_ASSESS_KNOWN = False
    item = make_item("http://bench-shot.sim.test/gallery/12/")
    Report.objects.filter(items=item).update(language=lang, text="<b>Not bold</b>\nA synthetic test description.")
    first = make_media(item, seed=2)
    make_media(item, seed=5)
    known(make_media(item, seed=4))
    sign_in(page, enrolled(analyst))
    page.goto(f"/{lang}/queue/")
    page.click("form[action$='/queue/next/'] button")
    page.wait_for_url(f"**/items/{item.pk}/")
    page.keyboard.press("1")
    page.check(f"input[name=m{first.pk}-age_group][value=prepubescent]")
    page.keyboard.press("j")
    assert page.locator(".reporter-text b").count() == 0  # the reporter's text is escaped
    assert "<b>Not bold</b>" in page.locator(".reporter-text").inner_text()
    save_shot(page, f"workbench-{lang}", full_page=True)


def test_one_classification_applies_to_a_selection_and_duplicates_show_once(
    page: Any, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    from hotline.sim.images import make_image

    item = make_item("http://bench-apply.sim.test/board/5/")
    first, second, third = (make_media(item, seed=n) for n in (2, 5, 8))
    copy = make_media(item, seed=11, data=make_image("png", 8, size=(320, 240)))  # the same file as ``third``
    sign_in(page, enrolled(analyst))
    take_next(page, item)
    assert page.locator(".media-card").count() == 3 and page.locator(f"#media-{copy.pk}").count() == 0
    assert "\u00d72" in page.locator(f"#media-{third.pk} legend").inner_text()
    page.keyboard.press("3")
    page.check(f"input[name=m{first.pk}-reason][value=nudism]")
    for key in ("j", "x", "j", "x", "k", "k", "a"):  # select the other two, back to the first, apply
        page.keyboard.press(key)
    assert page.locator(f"input[name=m{third.pk}-reason][value=nudism]").is_checked()
    page.keyboard.press("Enter")
    page.wait_for_url("**/queue/")
    rows = dict(MediaAssessment.objects.values_list("media_id", "reason"))
    assert rows == {first.pk: "nudism", second.pk: "nudism", third.pk: "nudism", copy.pk: "nudism"}
    item.refresh_from_db()
    assert item.verdict == "not_illegal"
