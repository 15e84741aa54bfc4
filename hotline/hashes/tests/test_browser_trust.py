"""Known content you can trust, in a real browser: an analyst votes on an imported entry beside its match and
reads a file's provenance; a manager sees what disabling a partner entry would send back, confirms it, and
reads bank health and the quarantine flag. Screenshots in ``artifacts/screenshots/trust-*.png``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.steps import inherit_known_step
from hotline.core.tests.conftest import save_shot
from hotline.core.tests.test_browser_flows import enrolled, sign_in
from hotline.hashes.models import Bank, BankKind, Entry, EntryVote, bump_version
from hotline.hashes.services import trust
from hotline.hashes.steps import match_step
from hotline.reports.models import Item, ItemStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


def shot(tab: Any, name: str) -> None:
    save_shot(tab, f"trust-{name}", full_page=True)


def _entry(bank: Bank, value: str, source_id: str) -> Entry:
    entry = Entry.objects.create(bank=bank, signal_type="sha256", value=value, verdict="baseline",
                                 classification="1", scheme="vics-us", source_id=source_id, added_at=timezone.now())
    bump_version()
    return entry


def test_votes_provenance_and_a_counted_undo_in_the_browser(
    new_tab: Callable[[], Any], analyst: User, manager: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    partner = Bank.objects.create(name="Partner NL (simulated)", kind=BankKind.PARTNER, trusted=True)
    imported = Bank.objects.create(name="Imported list (simulated)", kind=BankKind.IMPORT, trusted=False)
    known_item, open_item = make_item("http://trust-known.sim.test/a/"), make_item("http://trust-open.sim.test/b/")
    known, shown = make_media(known_item, seed=11), make_media(open_item, seed=12)
    bad = _entry(partner, known.sha256, "nl-4711")
    doubtful = _entry(imported, shown.sha256, "imp-0815")
    match_step()
    inherit_known_step()
    known_item.refresh_from_db()
    assert known_item.status == ItemStatus.ASSESSED

    tab = new_tab()
    sign_in(tab, enrolled(analyst))
    tab.goto(f"/items/{open_item.pk}/")
    tab.locator(f"span.vote[data-entry='{doubtful.pk}'] button[value=reject]").click()
    tab.wait_for_load_state()
    assert EntryVote.objects.get(entry=doubtful, user=analyst).vote == "reject"
    tab.goto(f"/media/{known.pk}/provenance/")
    assert "nl-4711" in tab.locator("#provenance").inner_text()
    assert tab.locator("#provenance tr.support").count() == 1
    shot(tab, "1-provenance")

    boss = new_tab()
    sign_in(boss, enrolled(manager))
    boss.goto(f"/banks/{partner.pk}/")
    boss.fill("input[name=reason]", "a harmless test pattern")
    boss.click("button:has-text('Disable')")
    boss.wait_for_url(f"**/banks/entries/{bad.pk}/disable/**")
    assert boss.locator("td[data-count=to_review]").inner_text() == "1"
    assert boss.locator("td[data-count=media]").inner_text() == "1"
    shot(boss, "2-confirm-undo")
    boss.click("#confirm-withdrawal button")
    boss.wait_for_url(f"**/banks/{partner.pk}/")
    known_item.refresh_from_db()
    assert known_item.status == ItemStatus.IN_REVIEW

    trust.quarantine(doubtful, cause="votes", detail={"rejections": 3}, now=timezone.now())
    boss.goto("/banks/")
    assert boss.locator("#quarantine-flag").count() == 1
    boss.goto("/banks/health/")
    assert "Partner NL (simulated)" in boss.locator("#health").inner_text()
    shot(boss, "3-health")
    boss.goto("/banks/quarantines/")
    assert boss.locator(f"tr.quarantine[data-entry='{doubtful.pk}']").count() == 1
    shot(boss, "4-quarantines")
