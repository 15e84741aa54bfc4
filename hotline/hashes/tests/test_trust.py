"""Known content you can trust: provenance, undo by source, flood quarantine, votes, bank health, API."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.services import claim_item
from hotline.assessment.steps import inherit_known_step
from hotline.audit.models import AuditEvent
from hotline.evidence.models import Capture, Media
from hotline.hashes.models import (
    Bank,
    BankKind,
    Entry,
    EntryStatus,
    EntryVote,
    MediaMatch,
    Quarantine,
    WithdrawalKind,
    bump_version,
)
from hotline.hashes.services import lookup, overrule_inherited, trust
from hotline.hashes.steps import match_step
from hotline.reports.models import Item, ItemStatus
from hotline.routing.models import Decision, Route

pytestmark = pytest.mark.django_db
MakeItem = Callable[..., Item]


def _bank(name: str, *, kind: str = BankKind.PARTNER, trusted: bool = True, **limits: int) -> Bank:
    return Bank.objects.create(name=name, kind=kind, trusted=trusted, shared_via_api=True, **limits)


def _entry(bank: Bank, value: str, verdict: str = "baseline", signal_type: str = "sha256") -> Entry:
    entry = Entry.objects.create(bank=bank, signal_type=signal_type, value=value, verdict=verdict,
                                 classification="1", scheme="vics-us", source_id=f"{bank.name}-{value[:6]}",
                                 added_at=timezone.now())
    bump_version()
    return entry


@pytest.fixture
def known_item(make_item: MakeItem, make_media: Any) -> Callable[..., tuple[Item, Media]]:
    """An item whose one file is (about to be) known content; ``seed`` picks the generated pattern."""
    def make(seed: int) -> tuple[Item, Media]:
        item = make_item()
        return item, make_media(item, seed=seed)
    return make


def _inherited(item: Item) -> None:
    match_step()
    inherit_known_step()
    item.refresh_from_db()
    assert item.status == ItemStatus.ASSESSED


def test_each_inherited_verdict_records_the_entry_it_rests_on(
    known_item: Callable[..., tuple[Item, Media]], login: Callable[[User], Client], analyst: User
) -> None:
    item, media = known_item(1)
    entry = _entry(_bank("Partner NL"), media.sha256)
    _entry(_bank("Untrusted list", trusted=False), media.sha256)
    match_step()
    supports = MediaMatch.objects.supports().filter(media=media)
    assert [(m.entry_id, m.bank.name, m.signal_type, m.distance) for m in supports] == [
        (entry.pk, "Partner NL", "sha256", 0)]
    assert MediaMatch.objects.filter(media=media).count() == 2
    page = login(analyst).get(reverse("hashes:media", args=[media.pk])).content.decode()
    assert "Partner NL" in page and entry.source_id in page and "Untrusted list" in page
    item_page = login(analyst).get(reverse("assessment:item", args=[item.pk])).content.decode()
    assert entry.source_id in item_page and reverse("hashes:media", args=[media.pk]) in item_page


def test_disabling_an_entry_counts_then_sends_every_verdict_resting_only_on_it_back(
    known_item: Callable[..., tuple[Item, Media]], senior: User, login: Callable[[User], Client]
) -> None:
    bank, own_view = _bank("Partner NL"), _bank("Partner FR")
    (assessed, a), (waiting, b), (_double, c) = known_item(1), known_item(2), known_item(3)
    bad = _entry(bank, a.sha256)
    _entry(own_view, c.sha256)
    _inherited(assessed)
    Entry.objects.filter(pk=bad.pk).update(value=b.sha256)  # the same entry now also knows b, not assessed yet
    bump_version()
    Capture.objects.filter(item=waiting).update(matched_at=None)
    match_step()
    Entry.objects.filter(pk=bad.pk).update(value=a.sha256)
    decision = Decision.objects.create(item=assessed, decided_at=timezone.now(), route=Route.DOMESTIC,
                                       notice_due_at=timezone.now() + timedelta(hours=2))
    # `bad` also becomes one of two supports of c's verdict: disabling it leaves c alone.
    MediaMatch.objects.create(media=c, entry=bad, bank=bank, signal_type="sha256", matched_at=timezone.now(),
                              inherited=True)
    page = login(senior).get(reverse("hashes:disable", args=[bad.pk]), {"reason": "test pattern"})
    assert page.status_code == 200
    counts = page.context["counts"]
    assert (counts["media"], counts["items"], counts["to_review"], counts["to_queue"], counts["decisions"],
            counts["notices_held"]) == (2, 2, 1, 1, 1, 1)
    assert Entry.objects.get(pk=bad.pk).status == EntryStatus.ACTIVE  # the count page wrote nothing
    response = login(senior).post(reverse("hashes:disable", args=[bad.pk]), {"reason": "test pattern"})
    assert response.status_code == 302
    assessed.refresh_from_db()
    a.refresh_from_db()
    c.refresh_from_db()
    decision.refresh_from_db()
    assert assessed.status == ItemStatus.IN_REVIEW and a.inherited_verdict == ""
    assert c.inherited_verdict == "baseline"
    assert decision.needs_analyst and decision.notice_due_at is None and "held_notice_due_at" in decision.inputs
    withdrawn = MediaMatch.objects.get(media=a, entry=bad)
    assert withdrawn.withdrawn_kind == WithdrawalKind.DISABLED and "test pattern" in withdrawn.withdrawn_reason
    event = AuditEvent.objects.get(action="item.review_requested", object_id=str(assessed.pk))
    assert event.after is not None and "test pattern" in event.after["reason"]
    waiting.refresh_from_db()
    assert waiting.status == ItemStatus.CAPTURED and Media.objects.get(pk=b.pk).inherited_verdict == ""
    assert not Capture.objects.filter(item=waiting).exclude(known_verdict="").exists()


def test_overruling_one_file_sends_back_every_verdict_resting_only_on_the_same_entry(
    make_item: MakeItem, make_media: Any, analyst: User
) -> None:
    first, second = make_item(), make_item()
    a, b = make_media(first, seed=4), make_media(second, seed=4)  # the same generated file on two pages
    _entry(_bank("Partner NL"), a.sha256)
    claim_item(first, user=analyst)  # the analyst has the first page open: it is not assessed by inheritance
    _inherited(second)
    assert trust.preview(trust.Source.overrule(a))["to_review"] == 1
    overrule_inherited(a, user=analyst, reason="a harmless pattern")
    second.refresh_from_db()
    b.refresh_from_db()
    assert second.status == ItemStatus.IN_REVIEW and b.inherited_verdict == ""
    assert MediaMatch.objects.filter(withdrawn_kind=WithdrawalKind.OVERRULED).count() == 2


def test_demoting_a_bank_withdraws_its_verdicts_but_keeps_its_matches(
    known_item: Callable[..., tuple[Item, Media]], manager: User
) -> None:
    bank = _bank("Partner NL")
    item, media = known_item(5)
    _entry(bank, media.sha256)
    _inherited(item)
    counts = trust.demote_bank(bank, user=manager, reason="the partner re-labelled its list")
    assert counts["to_review"] == 1
    bank.refresh_from_db()
    item.refresh_from_db()
    assert not bank.trusted and item.status == ItemStatus.IN_REVIEW
    assert MediaMatch.objects.filter(bank=bank).count() == 1
    with pytest.raises(ValueError, match="own bank"):
        trust.demote_bank(Bank.objects.create(name="own", kind=BankKind.OWN, trusted=True), user=manager, reason="x")


def test_an_entry_that_floods_is_quarantined_and_its_matches_become_suggestions(
    known_item: Callable[..., tuple[Item, Media]], make_media: Any, senior: User
) -> None:
    bank = _bank("Partner NL", flood_items=2)
    pairs = [known_item(6) for _ in range(3)]  # the same file on three pages
    entry = _entry(bank, pairs[0][1].sha256)
    for item, _ in pairs[:2]:
        Capture.objects.filter(item=item).update(matched_at=None)
    match_step()
    entry.refresh_from_db()
    assert entry.status == EntryStatus.QUARANTINED
    [quarantine] = Quarantine.objects.all()
    assert quarantine.cause == "flood" and quarantine.detail["items"] == 3
    assert set(Media.objects.filter(sha256=entry.value).values_list("inherited_verdict", flat=True)) == {""}
    assert [h.quarantined for h in lookup([("sha256", entry.value)])[0]] == [True]
    later, _ = known_item(6)
    match_step()
    assert Media.objects.get(item=later).inherited_verdict == ""  # a suggestion only
    trust.confirm_quarantined(entry, user=senior)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.ACTIVE and entry.flood_cleared_at is not None
    assert Quarantine.objects.get().resolution == "confirmed"


def test_votes_quarantine_a_rejected_entry_and_travel_with_the_export(
    known_item: Callable[..., tuple[Item, Media]], analyst: User, analyst2: User, senior: User,
    login: Callable[[User], Client], tmp_path: Any
) -> None:
    bank = _bank("Imported list", kind=BankKind.IMPORT, trusted=False, reject_threshold=2)
    _item, media = known_item(7)
    entry = _entry(bank, media.sha256)
    match_step()
    login(analyst).post(reverse("hashes:vote", args=[entry.pk]), {"vote": "reject", "media": media.pk})
    trust.vote(entry, user=senior, choice="confirm")
    entry.refresh_from_db()
    assert entry.status == EntryStatus.ACTIVE
    out = tmp_path / "bank.csv"
    call_command("hashes", "export", "Imported list", "--format", "csv", "--out", str(out))
    [row] = list(csv.DictReader(io.StringIO(out.read_text())))
    assert (row["votes_confirm"], row["votes_reject"]) == ("1", "1")
    trust.vote(entry, user=analyst2, choice="reject", note="a plain test pattern")
    entry.refresh_from_db()
    assert entry.status == EntryStatus.QUARANTINED and Quarantine.objects.get().cause == "votes"
    assert EntryVote.objects.count() == 3
    with pytest.raises(ValueError, match="third-party"):
        trust.vote(_entry(_bank("ours", kind=BankKind.OWN), "a" * 64), user=analyst, choice="reject")


def test_bank_health_counts_matches_verdicts_overrules_and_quarantines(
    known_item: Callable[..., tuple[Item, Media]], analyst: User, manager: User, login: Callable[[User], Client]
) -> None:
    bank = _bank("Partner NL")
    (_, a), (_, b) = known_item(8), known_item(9)
    _entry(bank, a.sha256)
    _entry(bank, b.sha256)
    match_step()
    overrule_inherited(a, user=analyst, reason="not what the list says")
    [row] = [r for r in trust.bank_health() if r["bank"] == "Partner NL"]
    assert (row["matches"], row["inherited"], row["overrules"], row["overruled_share"]) == (2, 2, 1, 0.5)
    assert "Partner NL" in login(manager).get(reverse("hashes:health")).content.decode()
    body = login(manager).get(reverse("hashes:health_csv")).content.decode()
    rows = {r["bank"]: r for r in csv.DictReader(io.StringIO(body))}
    assert rows["Partner NL"]["overrules"] == "1" and rows["Partner NL"]["overruled_share"] == "0.5"


def test_the_match_api_looks_in_chosen_banks_and_returns_provenance(
    client: Client, partner_client: tuple[Any, str]
) -> None:
    value = "ab" * 32
    first, second = _bank("Partner NL"), _bank("Partner FR")
    _entry(first, value)
    _entry(second, value, "national")
    Bank.objects.create(name="Private", kind=BankKind.PARTNER, trusted=True)
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {partner_client[1]}"}
    url = reverse("api:lookup_hashes")
    body = {"hashes": [{"signal_type": "sha256", "value": value}], "banks": ["Partner FR"]}
    response = client.post(url, body, content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    [match] = response.json()["results"][0]["matches"]
    assert (match["bank"], match["source_id"], match["distance"], match["quarantined"]) == (
        "Partner FR", "Partner FR-ababab", 0, False)
    everything = client.post(url, {"hashes": body["hashes"]}, content_type="application/json", **headers)
    assert len(everything.json()["results"][0]["matches"]) == 2
    hidden = client.post(url, {**body, "banks": ["Private"]}, content_type="application/json", **headers)
    assert hidden.status_code == 404 and "Private" in hidden.json()["detail"]
