"""Known content: banks, imports, four-eyes additions, matching (exact and PDQ), inherited verdicts,
re-upload detection. Every change bumps ``IndexVersion``; each process re-checks it at least every
``HOTLINE_HASH_INDEX_MAX_AGE`` seconds, at once after its own changes, and never reports a disabled entry.

The hashes domain's services package: this module holds banks, imports and four-eyes additions
(importable as ``hotline.hashes.services``) and re-exports the matching of ``services.matching``;
``services.trust`` holds undo by source, quarantine and votes. The worker step is
``hotline.hashes.steps.match_step``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM, Actor, Change, record
from hotline.hashes import actions
from hotline.hashes.models import (
    Bank,
    BankKind,
    Entry,
    EntryStatus,
    move_entry,
)
from hotline.hashes.models import (
    bump_version as bump_version,
)
from hotline.hashes.services import trust
from hotline.hashes.services.matching import (
    _CHUNK,
    VERDICT_STRENGTH,
)
from hotline.hashes.services.matching import (
    _LOADED as _LOADED,
)
from hotline.hashes.services.matching import (
    ILLEGAL as ILLEGAL,
)
from hotline.hashes.services.matching import (
    REUPLOAD_PRIORITY as REUPLOAD_PRIORITY,
)
from hotline.hashes.services.matching import (
    Hit as Hit,
)
from hotline.hashes.services.matching import (
    _describe as _describe,
)
from hotline.hashes.services.matching import (
    _LoadedIndex as _LoadedIndex,
)
from hotline.hashes.services.matching import (
    current_version as current_version,
)
from hotline.hashes.services.matching import (
    forget_pdq_index as forget_pdq_index,
)
from hotline.hashes.services.matching import (
    lookup as lookup,
)
from hotline.hashes.services.matching import (
    match_capture as match_capture,
)
from hotline.hashes.services.matching import (
    match_due as match_due,
)
from hotline.hashes.services.matching import (
    media_signals as media_signals,
)
from hotline.hashes.services.matching import (
    overrule_inherited as overrule_inherited,
)
from hotline.hashes.services.matching import (
    pdq_index as pdq_index,
)
from hotline.lib import prepared
from hotline.lib.hashlists import HashRecord, LineError
from hotline.reports.models import Item

OWN_BANK = "Own confirmed assessments"
_COPY_CHUNK = 50_000


class FourEyesError(Exception):
    pass


# ---------------------------------------------------------------- banks and imports

def own_bank() -> Bank:
    return ensure_bank(OWN_BANK, kind=BankKind.OWN, trusted=True, provenance="our own confirmed assessments",
                       actor=SYSTEM)[0]


@transaction.atomic
def ensure_bank(name: str, *, kind: str, trusted: bool, provenance: str, actor: Actor) -> tuple[Bank, bool]:
    """The bank called ``name``, created (and audited) when it does not exist yet."""
    bank, created = Bank.objects.get_or_create(
        name=name, defaults={"kind": kind, "trusted": trusted, "provenance": provenance[:2000]})
    if created:
        record(actor, actions.BANK_CREATED, bank, after={"name": name, "kind": kind, "trusted": trusted})
    return bank, created


@dataclass
class ImportSummary:
    added: int = 0
    existing: int = 0
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0


def import_records(
    bank: Bank, records: Iterable[HashRecord | LineError], *, actor: Actor, now: datetime | None = None
) -> ImportSummary:
    """Add every valid record to ``bank`` in batches; re-importing the same list adds nothing."""
    now = now or timezone.now()
    summary = ImportSummary()
    postgres = connection.vendor == "postgresql"
    size = _COPY_CHUNK if postgres else _CHUNK
    batch: list[HashRecord] = []
    for record_ in records:
        if isinstance(record_, LineError):
            summary.error_count += 1
            if len(summary.errors) < 10_000:
                summary.errors.append(record_)
            continue
        batch.append(record_)
        if len(batch) >= size:
            _store(bank, batch, now, summary, postgres=postgres)
            batch = []
    if batch:
        _store(bank, batch, now, summary, postgres=postgres)
    with transaction.atomic():
        bump_version()
        record(actor, actions.BANK_IMPORTED, bank, now=now,
               after={"added": summary.added, "existing": summary.existing, "errors": summary.error_count})
    return summary


def _entry(bank: Bank, rec: HashRecord, now: datetime) -> Entry:
    return Entry(bank=bank, signal_type=rec.signal_type, value=rec.value, classification=rec.classification[:40],
                 scheme=rec.scheme[:40], verdict=rec.mapped_verdict[:20], quality=rec.quality,
                 source_id=rec.source_id[:200], extra=dict(rec.extra), status=EntryStatus.ACTIVE, added_at=now)


def _store(bank: Bank, batch: list[HashRecord], now: datetime, summary: ImportSummary, *, postgres: bool) -> None:
    if postgres:
        _copy_batch(bank, batch, now, summary)
    else:
        _store_batch([_entry(bank, r, now) for r in batch], summary)


_COPY_COLUMNS = "signal_type, value, classification, scheme, verdict, quality, source_id, extra"
# Built from the constant column list above, no outside input.
_INSERT_NEW = (
    f"INSERT INTO hashes_entry (bank_id, {_COPY_COLUMNS}, status, added_at, disabled_reason)"  # noqa: S608
    f" SELECT %s, {_COPY_COLUMNS}, 'active', %s, '' FROM hashes_import_rows"
    " ON CONFLICT (bank_id, signal_type, value) DO NOTHING"
)


def _copy_batch(bank: Bank, batch: list[HashRecord], now: datetime, summary: ImportSummary) -> None:
    """PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING, which also
    skips duplicates inside the batch; its row count is what was new."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS hashes_import_rows (signal_type text, value text, classification text,"
            " scheme text, verdict text, quality smallint, source_id text, extra jsonb) ON COMMIT DELETE ROWS")
        cursor.execute("TRUNCATE hashes_import_rows")  # an enclosing transaction may not have committed yet
        raw = cursor.cursor
        with raw.copy(f"COPY hashes_import_rows ({_COPY_COLUMNS}) FROM STDIN") as copy:
            for r in batch:
                copy.write_row((r.signal_type, r.value, r.classification[:40], r.scheme[:40], r.mapped_verdict[:20],
                                r.quality, r.source_id[:200], json.dumps(dict(r.extra))))
        cursor.execute(_INSERT_NEW, [bank.pk, now])
        added = cursor.rowcount
    summary.added += added
    summary.existing += len(batch) - added


def _store_batch(batch: list[Entry], summary: ImportSummary) -> None:
    """Insert what the bank does not hold yet (a unique constraint backs this up under races)."""
    unique = list({(e.signal_type, e.value): e for e in batch}.values())
    held = set(Entry.objects.filter(bank=batch[0].bank, value__in=[e.value for e in unique])
               .values_list("signal_type", "value"))
    new = [e for e in unique if (e.signal_type, e.value) not in held]
    with transaction.atomic():
        Entry.objects.bulk_create(new, ignore_conflicts=True, batch_size=_CHUNK)
    summary.added += len(new)
    summary.existing += len(batch) - len(new)


def disable_entry(entry: Entry, *, user: User, reason: str) -> None:
    """False-positive control: the entry stops matching at once (all processes see the new version), and
    every inherited verdict that rested only on it goes back to people (``trust.disable``)."""
    trust.disable(entry, user=user, reason=reason)


# ---------------------------------------------------------------- own bank: additions with four eyes

class FileHashes(Protocol):
    """What the own bank takes from one captured file (a ``Media`` row, or the columns of one)."""

    @property
    def pk(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def md5(self) -> str: ...
    @property
    def pdq(self) -> str: ...
    @property
    def pdq_quality(self) -> int | None: ...


def entries_from_assessment(item: Item, verdict: str, files: Iterable[FileHashes], *, bank: int, analyst: User,
                            reviewer: User | None, now: datetime,
                            media_verdicts: Mapping[int, str] | None = None) -> Change:
    """Put the hashes of an assessed item's files in our own bank: pending a second analyst's confirmation after
    one analyst's verdict, active when ``reviewer`` confirmed it. ``files`` are the good files of the item's
    newest capture, ``bank`` the own bank's id (``own_bank_id``, or ``own_bank`` on its first use). Writes the
    entries, moves the index version and returns the audit event, which the caller appends in the same
    transaction with ``analyst`` as actor (``assessment.services.workflow._record_decision``, with the
    decision's own event); the caller checks first that the verdict adds anything (``adds_entries``).

    ``media_verdicts`` (media id -> verdict) classifies each file on its own: a legal image beside an
    illegal one is entered as not illegal, and files it does not name are left out."""
    status = EntryStatus.ACTIVE if reviewer is not None else EntryStatus.PENDING
    entries = []
    min_quality: int = settings.HOTLINE_PDQ_MIN_QUALITY
    for media in files:
        own = media_verdicts.get(media.pk, "") if media_verdicts is not None else verdict
        if own not in VERDICT_STRENGTH:
            continue
        signals = [("sha256", media.sha256), ("md5", media.md5)]
        if media.pdq and (media.pdq_quality or 0) >= min_quality:
            signals.append(("pdq", media.pdq))
        entries += [Entry(bank_id=bank, signal_type=t, value=v, verdict=own, classification=own,
                          scheme="hotline", quality=media.pdq_quality if t == "pdq" else None,
                          source_item=item, extra={"media": media.pk}, status=status, added_at=now,
                          added_by=analyst, confirmed_by=reviewer) for t, v in signals]
    insert_entries(entries)
    bump_version()
    return Change(actions.BANK_ENTRIES_PROPOSED if reviewer is None else actions.BANK_ENTRIES_ADDED, item,
                  after={"bank": bank, "entries": len(entries), "verdict": verdict})


def insert_entries(entries: list[Entry]) -> None:
    """``Entry.objects.bulk_create(entries, ignore_conflicts=True)`` (an entry already in its bank is left as it is)
    with the INSERT's SQL kept per number of rows (``prepared.insert``): every final decision writes its files'
    entries, and the ORM built and compiled the statement each time."""
    prepared.insert(entries, ignore_conflicts=True)


def adds_entries(verdict: str, media_verdicts: Mapping[int, str] | None) -> bool:
    """Whether an assessment with this verdict (and these per-file verdicts) puts anything in the own bank."""
    return verdict in VERDICT_STRENGTH or bool(media_verdicts)


def own_bank_id() -> int | None:
    """The own bank's id, one plain read (compiled once); None until ``own_bank`` first makes it (audited)."""
    found = prepared.rows("hashes.own_bank", _own_bank_ids)
    return int(found[0][0]) if found else None


def _own_bank_ids() -> QuerySet[Bank, tuple[Any, ...]]:
    return Bank.objects.filter(name=OWN_BANK).values_list("pk").order_by("pk")[:1]


@transaction.atomic
def confirm_entries(item: Item, *, user: User, now: datetime | None = None) -> int:
    """The second analyst confirms the pending own-bank entries of ``item`` (never the one who added them)."""
    now = now or timezone.now()
    pending = Entry.objects.select_for_update().filter(source_item=item, status=EntryStatus.PENDING)
    if pending.filter(added_by=user).exists():
        raise FourEyesError("you proposed these entries; a different analyst must confirm them")
    count = move_entry(pending, EntryStatus.ACTIVE, now=now, strict=False, confirmed_by=user)
    bump_version()
    record(Actor.of_user(user), actions.BANK_ENTRIES_CONFIRMED, item, now=now, after={"entries": count})
    return count
