"""The own bank's write of a final decision (``entries_from_assessment``): the entries ``bulk_create`` wrote, an
entry already in the bank left as it is, long lists in batches, the index version one on, and few statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hotline.accounts.models import User
from hotline.hashes import services
from hotline.hashes.models import Entry, EntryStatus, IndexVersion
from hotline.hashes.services import bump_version, entries_from_assessment, own_bank
from hotline.reports.models import Item

pytestmark = pytest.mark.django_db

COLUMNS = ("bank_id", "signal_type", "value", "verdict", "classification", "scheme", "quality", "source_id",
           "source_item_id", "extra", "status", "added_at", "added_by_id", "confirmed_by_id", "disabled_reason",
           "quarantined_at", "flood_cleared_at")


class File(NamedTuple):
    pk: int
    sha256: str
    md5: str
    pdq: str
    pdq_quality: int | None


def _file(n: int, *, quality: int | None = 100) -> File:
    return File(n, f"{n:064x}", f"{n:032x}", f"{n + 7:064x}", quality)


def _version() -> int:
    return IndexVersion.objects.get(pk=1).version


def test_it_writes_each_files_entries_and_leaves_one_already_in_the_bank(
        make_item: Callable[..., Item], analyst: User, senior: User) -> None:
    item, bank, now = make_item(), own_bank(), timezone.now()
    earlier = Entry.objects.create(bank=bank, signal_type="sha256", value=_file(2).sha256, verdict="national",
                                   added_at=now, status=EntryStatus.PENDING)
    bump_version()
    version = _version()
    files = [_file(1), _file(2), _file(3, quality=10)]
    change = entries_from_assessment(item, "baseline", files, bank=bank.pk, analyst=analyst, reviewer=senior,
                                     now=now, media_verdicts={1: "baseline", 2: "baseline", 3: "national"})
    assert change.after == {"bank": bank.pk, "entries": 8, "verdict": "baseline"}
    assert _version() == version + 1
    rows = {(e.signal_type, e.value): e for e in Entry.objects.filter(bank=bank)}
    assert len(rows) == 8  # three of files 1 and 2 (one of them the earlier entry), two of file 3 (pdq too poor)
    assert rows[("sha256", _file(2).sha256)].pk == earlier.pk
    assert rows[("sha256", _file(2).sha256)].verdict == "national"  # left as it was
    pdq = rows[("pdq", _file(1).pdq)]
    assert (pdq.verdict, pdq.classification, pdq.scheme, pdq.quality, pdq.source_item_id, pdq.extra, pdq.status,
            pdq.added_at, pdq.added_by_id, pdq.confirmed_by_id) == (
        "baseline", "baseline", "hotline", 100, item.pk, {"media": 1}, EntryStatus.ACTIVE, now, analyst.pk,
        senior.pk)
    md5 = rows[("md5", _file(3).md5)]
    assert (md5.verdict, md5.quality, md5.extra, md5.source_id, md5.disabled_reason) == (
        "national", None, {"media": 3}, "", "")


def test_it_writes_what_bulk_create_wrote(make_item: Callable[..., Item], analyst: User,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    item, bank, now = make_item(), own_bank(), timezone.now()
    files = [_file(1), _file(4, quality=None)]
    entries_from_assessment(item, "national", files, bank=bank.pk, analyst=analyst, reviewer=None, now=now)
    ours = list(Entry.objects.filter(bank=bank).order_by("signal_type", "value").values_list(*COLUMNS))
    Entry.objects.filter(bank=bank).delete()
    monkeypatch.setattr(services, "insert_entries", lambda entries: Entry.objects.bulk_create(
        entries, ignore_conflicts=True))  # what the service wrote before
    entries_from_assessment(item, "national", files, bank=bank.pk, analyst=analyst, reviewer=None, now=now)
    theirs = list(Entry.objects.filter(bank=bank).order_by("signal_type", "value").values_list(*COLUMNS))
    assert ours == theirs and len(ours) == 5


def test_a_long_list_is_written_in_batches_and_a_decision_costs_two_statements(
        make_item: Callable[..., Item], analyst: User) -> None:
    item, bank, now = make_item(), own_bank(), timezone.now()
    bump_version()
    files = [_file(n) for n in range(1, 401)]  # 1,200 entries: more than one INSERT's worth of parameters
    entries_from_assessment(item, "baseline", files, bank=bank.pk, analyst=analyst, reviewer=None, now=now)
    assert Entry.objects.filter(bank=bank, source_item=item).count() == 1200
    other = make_item()
    with CaptureQueriesContext(connection) as queries:
        entries_from_assessment(other, "baseline", [_file(1000), _file(1001)], bank=bank.pk, analyst=analyst,
                                reviewer=None, now=now)
    assert len(queries) == 2, [q["sql"] for q in queries]  # the INSERT and the version's UPDATE
