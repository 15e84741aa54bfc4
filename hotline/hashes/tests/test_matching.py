from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.models import Assessment
from hotline.assessment.services import assess_item, claim_item, review_item
from hotline.assessment.steps import inherit_known_step
from hotline.assessment.tests.test_workflow import BORDERLINE, CLEAR
from hotline.audit.models import AuditEvent
from hotline.evidence.models import Capture, Media
from hotline.hashes.models import Bank, BankKind, Entry, EntryStatus, MediaMatch
from hotline.hashes.services import FourEyesError, confirm_entries, disable_entry, lookup
from hotline.hashes.steps import match_step
from hotline.lib import pdq
from hotline.reports.models import Item, ItemStatus

pytestmark = pytest.mark.django_db
MakeItem = Callable[..., Item]


def _flip(hex_value: str, bits: int) -> str:
    value = int(hex_value, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


@pytest.fixture
def captured_media(make_item: MakeItem, make_media: Any) -> Callable[..., Media]:
    def make(seed: int, item: Item | None = None) -> Media:
        media: Media = make_media(item or make_item(), seed=seed)
        assert media.blob is not None
        from hotline.evidence.store import get_blob_bytes

        hashed = pdq.hash_image_bytes(get_blob_bytes(media.blob))
        Media.objects.filter(pk=media.pk).update(pdq=hashed.hex, pdq_quality=hashed.quality, md5="0" * 32)
        media.refresh_from_db()
        return media

    return make


def _bank(name: str, *, kind: str = BankKind.PARTNER, trusted: bool = True, radius: int = 31) -> Bank:
    return Bank.objects.create(name=name, kind=kind, trusted=trusted, pdq_radius=radius)


def _entry(bank: Bank, signal_type: str, value: str, verdict: str = "baseline") -> Entry:
    from hotline.hashes.services import bump_version

    entry = Entry.objects.create(bank=bank, signal_type=signal_type, value=value, verdict=verdict,
                                 classification="1", scheme="vics-us", added_at=timezone.now())
    bump_version()
    return entry


def test_an_exact_trusted_match_gives_an_inherited_verdict(captured_media: Callable[..., Media]) -> None:
    media = captured_media(3)
    _entry(_bank("Partner list"), "sha256", media.sha256)
    assert match_step() is True
    media.refresh_from_db()
    assert media.inherited_verdict == "baseline" and "Partner list" in media.inherited_from
    [match] = MediaMatch.objects.filter(media=media)
    assert (match.signal_type, match.distance) == ("sha256", 0)
    event = AuditEvent.objects.get(action="item.matched")
    assert event.after is not None and event.after["known"] == 1 and event.after["known_verdict"] == "baseline"


def test_an_untrusted_bank_matches_but_gives_no_verdict(captured_media: Callable[..., Media]) -> None:
    media = captured_media(3)
    _entry(_bank("Someone's list", trusted=False), "sha256", media.sha256)
    match_step()
    media.refresh_from_db()
    assert MediaMatch.objects.filter(media=media).count() == 1 and media.inherited_verdict == ""


def test_pdq_near_matches_respect_each_banks_radius_and_never_inherit(captured_media: Callable[..., Media]) -> None:
    media = captured_media(2)
    wide, narrow = _bank("wide", radius=31), _bank("narrow", radius=10)
    _entry(wide, "pdq", _flip(media.pdq, 20))
    _entry(narrow, "pdq", _flip(media.pdq, 12))
    _entry(wide, "pdq", _flip(media.pdq, 32))
    match_step()
    matches = {(m.bank.name, m.distance) for m in MediaMatch.objects.filter(media=media).select_related("bank")}
    assert matches == {("wide", 20)}
    media.refresh_from_db()
    assert media.inherited_verdict == ""


def test_low_quality_pdq_is_not_matched(captured_media: Callable[..., Media]) -> None:
    media = captured_media(5)
    Media.objects.filter(pk=media.pk).update(pdq_quality=40)
    _entry(_bank("list"), "pdq", media.pdq)
    match_step()
    assert not MediaMatch.objects.exists()


def test_a_disabled_entry_stops_matching_at_once_even_in_the_pdq_index(
    captured_media: Callable[..., Media], senior: User
) -> None:
    media = captured_media(5)
    entry = _entry(_bank("list"), "pdq", _flip(media.pdq, 3))
    assert [h.entry_id for h in lookup([("pdq", media.pdq)])[0]] == [entry.pk]
    disable_entry(entry, user=senior, reason="false positive: a test pattern")
    assert lookup([("pdq", media.pdq)]) == [[]]
    with pytest.raises(ValueError, match="say why"):
        disable_entry(entry, user=senior, reason=" ")


def test_the_pdq_lookup_filters_by_bank_and_radius_from_the_index_and_rechecks_the_database(
    captured_media: Callable[..., Media],
) -> None:
    """The bank filter and each bank's radius come from the index's own arrays (no query for a hit in
    another bank); a hit that is left is described by one plain query, which still drops an entry
    disabled or a bank changed behind the index's back (no version bump: as between the version check
    and the query)."""
    media = captured_media(6)
    wide, narrow, other = _bank("wide", radius=31), _bank("narrow", radius=10), _bank("other", radius=31)
    near = _entry(wide, "pdq", _flip(media.pdq, 20))
    close = _entry(narrow, "pdq", _flip(media.pdq, 8))
    _entry(narrow, "pdq", _flip(media.pdq, 12))  # outside the narrow bank's radius
    elsewhere = _entry(other, "pdq", _flip(media.pdq, 4))
    everything = lookup([("pdq", media.pdq)])[0]
    assert [(h.entry_id, h.distance, h.bank) for h in everything] == [
        (elsewhere.pk, 4, "other"), (close.pk, 8, "narrow"), (near.pk, 20, "wide")]
    assert lookup([("pdq", media.pdq)], banks=[wide.pk, narrow.pk]) == [everything[1:]]
    assert lookup([("pdq", media.pdq)], banks=[]) == [[]]
    hit = everything[0]
    assert (hit.signal_type, hit.verdict, hit.negative, hit.trusted, hit.quarantined) == (
        "pdq", "baseline", False, True, False)
    Entry.objects.filter(pk=close.pk).update(status=EntryStatus.DISABLED)  # no version bump
    assert [h.entry_id for h in lookup([("pdq", media.pdq)])[0]] == [elsewhere.pk, near.pk]
    Entry.objects.filter(pk=elsewhere.pk).update(status=EntryStatus.QUARANTINED)
    assert lookup([("pdq", media.pdq)])[0][0].quarantined


def test_a_known_benign_list_suppresses_inheritance(captured_media: Callable[..., Media]) -> None:
    media = captured_media(7)
    _entry(_bank("trusted"), "sha256", media.sha256)
    _entry(_bank("benign", kind=BankKind.NEGATIVE, trusted=False), "sha256", media.sha256, verdict="not_illegal")
    match_step()
    media.refresh_from_db()
    assert media.inherited_verdict == ""


def test_an_item_whose_media_are_all_known_illegal_is_assessed_without_viewing(
    captured_media: Callable[..., Media], make_item: MakeItem
) -> None:
    item = make_item()
    first, second = captured_media(8, item), captured_media(9, item)
    bank = _bank("trusted")
    _entry(bank, "sha256", first.sha256, "national")
    _entry(bank, "md5", "0" * 32, "baseline")  # both files share this synthetic MD5
    match_step()
    assert Capture.objects.get(item=item).known_verdict == "baseline"
    assert inherit_known_step() is True
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "baseline")
    assessment = Assessment.objects.get(item=item)
    assert assessment.inherited and assessment.analyst is None and "trusted" in assessment.notes
    assert AuditEvent.objects.filter(action="item.assessed_by_inheritance").count() == 1
    assert set(Media.objects.filter(item=item).values_list("inherited_verdict", flat=True)) == {"baseline"}
    assert first.pk != second.pk


def test_a_partly_known_page_still_needs_an_analyst(captured_media: Callable[..., Media], make_item: MakeItem) -> None:
    item = make_item()
    known, _unknown = captured_media(10, item), captured_media(11, item)
    Media.objects.filter(pk=_unknown.pk).update(md5="1" * 32)
    _entry(_bank("trusted"), "sha256", known.sha256)
    match_step()
    assert inherit_known_step() is False
    assert Item.objects.get(pk=item.pk).status == ItemStatus.CAPTURED


def test_known_files_at_a_new_url_mark_a_reupload_that_jumps_the_queue(
    captured_media: Callable[..., Media], make_item: MakeItem
) -> None:
    earlier = make_item()
    captured_media(12, earlier)
    match_step()
    unrelated = make_item()
    captured_media(12, unrelated)  # same file, but the earlier item is not known illegal yet
    match_step()
    assert not unrelated.reupload_of.exists()
    Item.objects.filter(pk=earlier.pk).update(verdict="baseline", status="assessed")
    later = make_item()
    captured_media(12, later)
    match_step()
    later.refresh_from_db()
    assert list(later.reupload_of.all()) == [earlier] and later.priority == 4
    assert not earlier.reupload_of.exists()
    assert Item.objects.awaiting_assessment().first() == later


def test_own_bank_additions_need_a_second_analyst(
    captured_media: Callable[..., Media], make_item: MakeItem, analyst: User, analyst2: User, senior: User
) -> None:
    item = make_item()
    media = captured_media(14, item)
    claim_item(item, user=analyst)
    assess_item(item, CLEAR, user=analyst)
    pending = Entry.objects.filter(source_item=item)
    assert {e.status for e in pending} == {EntryStatus.PENDING}
    assert {e.signal_type for e in pending} >= {"sha256", "pdq"}
    assert lookup([("sha256", media.sha256)]) == [[]]
    with pytest.raises(FourEyesError):
        confirm_entries(item, user=analyst)
    assert confirm_entries(item, user=analyst2) == pending.count()
    [hit] = lookup([("sha256", media.sha256)])[0]
    assert hit.verdict == "baseline" and hit.source_item_id == item.pk
    other = make_item()
    captured_media(17, other)
    claim_item(other, user=analyst)
    assess_item(other, BORDERLINE, user=analyst)
    assert not Entry.objects.filter(source_item=other).exists()
    claim_item(other, user=senior)
    review_item(other, BORDERLINE, user=senior)
    assert {e.status for e in Entry.objects.filter(source_item=other)} == {EntryStatus.ACTIVE}


def test_the_index_arrays_give_bank_and_radius_and_let_an_unknown_id_through() -> None:
    from hotline.hashes.services import _LoadedIndex

    loaded = _LoadedIndex(entry_ids=np.array([3, 8, 20], dtype=np.int64),
                          entry_banks=np.array([1, 2, 1], dtype=np.int32),
                          entry_radius=np.array([31, 10, 31], dtype=np.uint8))
    assert loaded.facts([20, 8, 5, 99]) == ([1, 2, None, None], [31, 10, 256, 256])
    assert _LoadedIndex().facts([4]) == ([None], [256])
    # up to 8 ids take a scalar path, more the array path: the same answers, an id before/after all included
    many = [20, 8, 5, 99, 0, 3, 21, 7, 8, 3]
    one_by_one = [loaded.facts([i]) for i in many]
    assert loaded.facts(many) == ([b[0] for b, _ in one_by_one], [r[0] for _, r in one_by_one])
    assert loaded.facts(many) == ([1, 2, None, None, None, 1, None, None, 2, 1],
                                  [31, 10, 256, 256, 256, 31, 256, 256, 10, 31])


QUERY = "3c" * 8 + "a5" * 8 + "0f" * 8 + "96" * 8  # a synthetic PDQ hash


def _added_elsewhere(bank: Bank, value: str) -> Entry:
    """An entry another process added: its version bump is not this process's own (``bump_version``)."""
    from django.db.models import F

    from hotline.hashes.models import IndexVersion

    entry = Entry.objects.create(bank=bank, signal_type="pdq", value=value, verdict="baseline",
                                 classification="1", scheme="vics-us", added_at=timezone.now())
    IndexVersion.objects.get_or_create(pk=1)
    IndexVersion.objects.filter(pk=1).update(version=F("version") + 1)
    return entry


def _pdq_hits(now: float) -> list[tuple[int, int]]:
    return [(h.entry_id, h.distance) for h in lookup([("pdq", QUERY)], now=now)[0]]


def test_an_entry_added_by_another_process_is_matched_once_the_index_is_max_age_old(settings: Any) -> None:
    settings.HOTLINE_HASH_INDEX_MAX_AGE = 5.0
    bank = _bank("list")
    first = _entry(bank, "pdq", _flip(QUERY, 2))
    assert _pdq_hits(100.0) == [(first.pk, 2)]  # the version is read: the index is built
    later = _added_elsewhere(bank, _flip(QUERY, 7))
    assert _pdq_hits(104.9) == [(first.pk, 2)]  # within the window: not read again
    assert _pdq_hits(105.0) == [(first.pk, 2), (later.pk, 7)]
    settings.HOTLINE_HASH_INDEX_MAX_AGE = 0
    latest = _added_elsewhere(bank, _flip(QUERY, 9))
    assert _pdq_hits(105.0) == [(first.pk, 2), (later.pk, 7), (latest.pk, 9)]  # 0: read before every look-up


def test_this_processs_own_changes_are_matched_at_once(settings: Any, senior: User) -> None:
    settings.HOTLINE_HASH_INDEX_MAX_AGE = 3600.0
    bank = _bank("list")
    first = _entry(bank, "pdq", _flip(QUERY, 2))  # bump_version: this process's own change
    assert _pdq_hits(0.0) == [(first.pk, 2)]
    second = _entry(bank, "pdq", _flip(QUERY, 5))
    assert _pdq_hits(1.0) == [(first.pk, 2), (second.pk, 5)]
    disable_entry(first, user=senior, reason="false positive: a test pattern")
    assert _pdq_hits(2.0) == [(second.pk, 5)]
    assert len(services_index()) == 1  # rebuilt without it, not only filtered


def services_index() -> Any:
    from hotline.hashes import services

    assert services._LOADED.index is not None
    return services._LOADED.index


def test_a_disabled_entry_or_a_narrowed_bank_is_never_matched_within_the_window(settings: Any) -> None:
    """Changed behind the process's back (another process, whose bump this one has not read yet): the
    query that describes the hits reads status, bank and radius from the database."""
    settings.HOTLINE_HASH_INDEX_MAX_AGE = 3600.0
    bank, other = _bank("list"), _bank("other list")
    near = _entry(bank, "pdq", _flip(QUERY, 3))
    far = _entry(bank, "pdq", _flip(QUERY, 20))
    moved = _entry(other, "pdq", _flip(QUERY, 6))
    assert _pdq_hits(0.0) == [(near.pk, 3), (moved.pk, 6), (far.pk, 20)]
    assert [h.entry_id for h in lookup([("pdq", QUERY)], banks=[bank.pk], now=1.0)[0]] == [near.pk, far.pk]
    Entry.objects.filter(pk=near.pk).update(status=EntryStatus.DISABLED)
    Bank.objects.filter(pk=bank.pk).update(pdq_radius=10)
    Entry.objects.filter(pk=moved.pk).update(bank=bank)
    assert _pdq_hits(2.0) == [(moved.pk, 6)]
    assert lookup([("pdq", QUERY)], banks=[other.pk], now=3.0) == [[]]


def test_the_index_is_kept_when_the_version_moves_but_its_rows_do_not(settings: Any) -> None:
    """Every own-bank proposal moves the version, but pending entries are not matched: the index built from
    the same matchable rows would be the same, so it is kept. Any change of an indexed row's id, hash, bank
    or the bank's radius builds it again."""
    from hotline.hashes import services
    from hotline.hashes.services import bump_version

    settings.HOTLINE_HASH_INDEX_MAX_AGE = 3600.0
    bank, other = _bank("list"), _bank("other list", radius=31)
    first = _entry(bank, "pdq", _flip(QUERY, 2))
    assert _pdq_hits(0.0) == [(first.pk, 2)]
    built = services_index()
    Entry.objects.create(bank=bank, signal_type="pdq", value=_flip(QUERY, 1), verdict="baseline",
                         classification="1", scheme="hotline", added_at=timezone.now(), status=EntryStatus.PENDING)
    bump_version()
    assert _pdq_hits(1.0) == [(first.pk, 2)]
    assert services_index() is built  # the same rows: kept
    assert services._LOADED.version == services.current_version()

    Entry.objects.filter(pk=first.pk).update(value=_flip(QUERY, 4))  # the same id, another hash
    bump_version()
    assert _pdq_hits(2.0) == [(first.pk, 4)]
    assert services_index() is not built
    built = services_index()
    Entry.objects.filter(pk=first.pk).update(bank=other)  # the same hash in another bank
    bump_version()
    assert [h.entry_id for h in lookup([("pdq", QUERY)], banks=[other.pk], now=3.0)[0]] == [first.pk]
    assert services_index() is not built
    built = services_index()
    Bank.objects.filter(pk=other.pk).update(pdq_radius=3)  # narrowed below the hit's distance
    bump_version()
    assert _pdq_hits(4.0) == []
    assert services_index() is not built
