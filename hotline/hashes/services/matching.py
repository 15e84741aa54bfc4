"""Matching known content: look-ups (exact and PDQ), the process's PDQ index and its freshness, and
the match step's work on each capture (inherited verdicts, re-upload detection). Re-exported by
``hotline.hashes.services``. Every change bumps ``IndexVersion``; each process re-checks it at least every
``HOTLINE_HASH_INDEX_MAX_AGE`` seconds, at once after its own changes, and never reports a disabled entry."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import operator
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Greatest

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM, record
from hotline.evidence.models import Capture, Media
from hotline.hashes import actions
from hotline.hashes.models import (
    EXACT_SIGNALS,
    MATCHING,
    Bank,
    BankKind,
    Entry,
    EntryStatus,
    IndexVersion,
    MediaMatch,
    local_bumps,
)
from hotline.hashes.services import trust
from hotline.lib import plainsql, prepared
from hotline.lib.pdqindex import PdqIndex, hex_to_bytes, hex_to_hash
from hotline.reports.models import Item

log = logging.getLogger("hotline.hashes")
VERDICT_STRENGTH = {"baseline": 3, "national": 2, "not_illegal": 1}
ILLEGAL = ("baseline", "national")
REUPLOAD_PRIORITY = 4
_CHUNK = 2000


# ---------------------------------------------------------------- index versioning and the PDQ index

def current_version() -> int:
    """The index version, read with one plain query (the ORM's query building would cost more than the
    PDQ search itself)."""
    rows = plainsql.fetch_all(_VERSION_SQL)
    return int(rows[0][0]) if rows else 0


_VERSION_SQL = f"SELECT version FROM {IndexVersion._meta.db_table} WHERE id = 1"  # noqa: S608 (no input)


@dataclass
class _LoadedIndex:
    version: int = -1
    checked_at: float = -math.inf  # time.monotonic() of the last version check
    checked_bumps: int = -1  # this process's own bumps (``local_bumps``) seen by that check
    index: PdqIndex | None = None
    # every indexed entry (sorted by id) with its bank and that bank's radius: the look-up filters its
    # hits by bank and radius from these arrays, without a query (13 bytes an entry: 130 MB at 10 M)
    entry_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    entry_banks: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    entry_radius: npt.NDArray[np.uint8] = field(default_factory=lambda: np.empty(0, np.uint8))
    digest: bytes = b""  # of the rows the index was built from, as read: the same rows again need no new index

    def facts(self, ids: Sequence[int]) -> tuple[list[int | None], list[int]]:
        """The bank and the bank's PDQ radius of each entry id in ``ids``; for an id the arrays do not
        hold (they are built with the index, so none should be missing): ``None`` and 256, which let
        the hit through to the query in ``_describe``."""
        if not len(self.entry_ids):
            return [None] * len(ids), [256] * len(ids)
        if len(ids) <= 8:  # the common case (a hit or two): scalar look-ups, ~0.6 us each against ~5 us of array calls
            entry_ids, last = self.entry_ids, len(self.entry_ids) - 1
            in_bank: list[int | None] = []
            radii: list[int] = []
            for eid in ids:
                row = min(int(entry_ids.searchsorted(eid)), last)
                known = int(entry_ids[row]) == eid
                in_bank.append(int(self.entry_banks[row]) if known else None)
                radii.append(int(self.entry_radius[row]) if known else 256)
            return in_bank, radii
        wanted = np.asarray(ids, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.entry_ids, wanted), len(self.entry_ids) - 1)
        known = self.entry_ids[rows] == wanted
        banks = np.where(known, self.entry_banks[rows], -1).tolist()
        radii = np.where(known, self.entry_radius[rows].astype(np.int64), 256).tolist()  # 256: not uint8
        return [b if b >= 0 else None for b in banks], radii


_LOADED = _LoadedIndex()
_LOCK = threading.Lock()
_REBUILD_CHUNK = 100_000


def pdq_index(*, now: float | None = None) -> _LoadedIndex:
    """The process's PDQ index, rebuilt from the database when its version moved on.

    The version is read at most every ``HOTLINE_HASH_INDEX_MAX_AGE`` seconds (``now``: ``time.monotonic()``,
    given by tests), and at the next call after this process changed anything itself (``bump_version``).
    An entry another process adds is therefore matched within that time; one it disables or removes is
    never reported, because ``_describe`` reads every hit's status from the database."""
    now = time.monotonic() if now is None else now
    bumps = local_bumps()
    loaded = _LOADED
    if (loaded.index is not None and loaded.checked_bumps == bumps
            and now - loaded.checked_at < settings.HOTLINE_HASH_INDEX_MAX_AGE):
        return loaded
    version = current_version()
    with _LOCK:
        if _LOADED.version != version or _LOADED.index is None:
            _rebuild(version)
        _LOADED.checked_at, _LOADED.checked_bumps = now, bumps
        return _LOADED


def forget_pdq_index() -> None:
    """Make the next look-up rebuild the index (tests: a rolled-back transaction can reuse a version number)."""
    with _LOCK:
        _LOADED.version, _LOADED.checked_at, _LOADED.digest = -1, -math.inf, b""


def _rebuild(version: int) -> None:
    """Read every matchable PDQ entry in chunks (never a list of millions of Python tuples) into the index."""
    rows = Entry.objects.matchable().filter(signal_type="pdq").values_list("pk", "value", "bank_id", "bank__pdq_radius")
    ids: list[npt.NDArray[np.int64]] = []
    codes: list[npt.NDArray[np.uint8]] = []
    banks: list[npt.NDArray[np.int64]] = []
    radii: list[npt.NDArray[np.int64]] = []
    chunk: list[tuple[int, str, int, int]] = []
    for row in rows.iterator(chunk_size=_REBUILD_CHUNK):
        chunk.append(row)
        if len(chunk) == _REBUILD_CHUNK:
            _read_chunk(chunk, ids, codes, banks, radii)
            chunk = []
    _read_chunk(chunk, ids, codes, banks, radii)
    all_ids = np.concatenate(ids) if ids else np.empty(0, np.int64)
    all_radii = np.concatenate(radii) if radii else np.empty(0, np.int64)
    digest = _digest(ids, codes, banks, radii)
    if _LOADED.index is not None and digest == _LOADED.digest:
        # The version moved (an entry pending, say) but the matchable PDQ rows are the ones the index holds:
        # building it again would give the same index.
        _LOADED.version = version
        return
    index = PdqIndex(radius=int(all_radii.max()) if len(all_radii) else 31)
    if len(all_ids):
        index.add(all_ids, np.concatenate(codes))
    order = np.argsort(all_ids)
    _LOADED.entry_ids = all_ids[order]
    _LOADED.entry_banks = (np.concatenate(banks) if banks else np.empty(0, np.int64))[order].astype(np.int32)
    _LOADED.entry_radius = all_radii[order].astype(np.uint8)
    _LOADED.index, _LOADED.version, _LOADED.digest = index, version, digest
    log.info("PDQ index rebuilt: %d hashes at version %d", len(index), version)


def _digest(*parts: list[npt.NDArray[Any]]) -> bytes:
    """SHA-256 of the rows as read (ids, codes, banks, radii, each in the order read, each part's length first)."""
    digest = hashlib.sha256()
    for arrays in parts:
        digest.update(sum(len(a) for a in arrays).to_bytes(8, "little"))
        for array in arrays:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.digest()


def _read_chunk(
    chunk: list[tuple[int, str, int, int]],
    ids: list[npt.NDArray[np.int64]],
    codes: list[npt.NDArray[np.uint8]],
    banks: list[npt.NDArray[np.int64]],
    radii: list[npt.NDArray[np.int64]],
) -> None:
    if chunk:
        ids.append(np.fromiter((r[0] for r in chunk), dtype=np.int64, count=len(chunk)))
        codes.append(hex_to_bytes([r[1] for r in chunk]))
        banks.append(np.fromiter((r[2] for r in chunk), dtype=np.int64, count=len(chunk)))
        radii.append(np.fromiter((r[3] for r in chunk), dtype=np.int64, count=len(chunk)))


# ---------------------------------------------------------------- look-ups

@dataclass(frozen=True)
class Hit:
    entry_id: int
    bank_id: int
    bank: str
    negative: bool
    trusted: bool
    signal_type: str
    distance: int
    classification: str
    scheme: str
    verdict: str
    source_item_id: int | None
    source_id: str = ""
    quarantined: bool = False

    @property
    def gives_verdict(self) -> bool:
        """An exact hit in a trusted (or our own) bank, from an entry not in quarantine."""
        return (self.distance == 0 and self.signal_type != "pdq" and self.trusted and bool(self.verdict)
                and not self.quarantined)


def lookup(
    signals: Sequence[tuple[str, str]], *, banks: Iterable[int] | None = None, now: float | None = None
) -> list[list[Hit]]:
    """Matches per signal: exact for cryptographic hashes, within each bank's radius for PDQ (``now``: see
    ``pdq_index``)."""
    found: list[list[tuple[int, int]]] = [[] for _ in signals]
    pdq_positions = [pos for pos, (signal_type, _) in enumerate(signals) if signal_type == "pdq"]
    if len(pdq_positions) < len(signals):
        _find_exact(signals, found)
    allowed = set(banks) if banks is not None else None
    if pdq_positions:
        loaded = pdq_index(now=now)
        index = loaded.index
        assert index is not None
        if len(index):
            if len(pdq_positions) == 1:  # the common call (one file's hash): no batch arrays around the kernel
                results = [index.search_one(hex_to_hash(signals[pdq_positions[0]][1]))]
            else:
                results = index.search(hex_to_bytes([signals[p][1] for p in pdq_positions]))
            for pos, hits in zip(pdq_positions, results, strict=True):
                if hits:  # within the entry's bank radius, in a bank asked for: from the index's arrays
                    in_bank, radius = loaded.facts([eid for eid, _ in hits])
                    found[pos] += [(eid, d) for (eid, d), b, r in zip(hits, in_bank, radius, strict=True)
                                   if d <= r and (allowed is None or b is None or b in allowed)]
    return _describe(found, allowed)


def _find_exact(signals: Sequence[tuple[str, str]], found: list[list[tuple[int, int]]]) -> None:
    """Adds the exact hits (distance 0) of the cryptographic hashes among ``signals`` to ``found``."""
    by_type: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for pos, (signal_type, value) in enumerate(signals):
        if signal_type in EXACT_SIGNALS:
            by_type[signal_type][value.lower()].append(pos)
    for part in _exact_parts(by_type):  # every signal type in one query (up to _CHUNK values), not one per type
        for entry_id, signal_type, value in _exact_rows(part):
            for pos in by_type[signal_type][value]:
                found[pos].append((entry_id, 0))


_COMPILED_EXACT = 16  # a part with at most this many values of each type: compiled once per shape (a capture's files)


def _exact_rows(part: list[tuple[str, list[str]]]) -> list[tuple[Any, ...]]:
    """(id, signal type, value) of the matchable entries among ``part``'s values. A small part (a capture's few
    files) runs SQL compiled once per set of signal types and padded length (``prepared.padded``); a batch of
    look-ups builds its query as before."""
    types = [signal_type for signal_type, _ in part]
    if len(set(types)) == len(types) and all(len(keys) <= _COMPILED_EXACT for _, keys in part):
        values = {signal_type: prepared.padded(keys) for signal_type, keys in part}
        return prepared.rows("hashes.exact", _exact_query, vary=tuple(sorted(values)), **values)
    return list(_exact_query(part))


def _exact_query(part: list[tuple[str, list[str]]] | None = None,
                 **keys: list[str]) -> QuerySet[Entry, tuple[Any, ...]]:
    """The matchable entries with one of the values of each signal type (``part``'s pairs, or ``keys``)."""
    pairs = part if part is not None else sorted(keys.items())
    return Entry.objects.matchable().filter(
        reduce(operator.or_, (Q(signal_type=signal_type, value__in=values) for signal_type, values in pairs))
    ).values_list("pk", "signal_type", "value")


def _exact_parts(by_type: dict[str, dict[str, list[int]]]) -> list[list[tuple[str, list[str]]]]:
    """The exact look-ups to make, (signal type, values) pairs grouped so each query asks at most _CHUNK values."""
    parts: list[list[tuple[str, list[str]]]] = [[]]
    size = 0
    for signal_type, values in by_type.items():
        keys = list(values)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            if size and size + len(chunk) > _CHUNK:
                parts.append([])
                size = 0
            parts[-1].append((signal_type, chunk))
            size += len(chunk)
    return [part for part in parts if part]


def _describe(found: list[list[tuple[int, int]]], allowed: set[int] | None) -> list[list[Hit]]:
    ids = list({eid for hits in found for eid, _ in hits})
    if not ids:
        return [[] for _ in found]
    entries: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(ids), _CHUNK):  # one plain query per chunk (the ORM cost several times the look-up)
        part = ids[start:start + _CHUNK]
        sql = _DESCRIBE_ONE if len(part) == 1 else _DESCRIBE_SQL.format(", ".join(["%s"] * len(part)))
        entries.update((row[0], row) for row in plainsql.fetch_all(sql, part))
    out: list[list[Hit]] = []
    for hits in found:
        described = []
        for eid, distance in hits:
            entry = entries.get(eid)
            if entry is None:
                continue  # deleted since the index was built
            (_, bank_id, status, signal_type, classification, scheme, verdict, source_item_id, source_id, bank_name,
             bank_kind, bank_trusted, bank_radius) = entry
            if (status not in MATCHING or (allowed is not None and bank_id not in allowed)
                    or (signal_type == "pdq" and distance > bank_radius)):
                continue  # changed since the index was built: never report a disabled entry
            described.append(Hit(eid, int(bank_id), str(bank_name), bank_kind == BankKind.NEGATIVE,
                                 bool(bank_trusted) or bank_kind == BankKind.OWN, str(signal_type), distance,
                                 str(classification), str(scheme), str(verdict),
                                 None if source_item_id is None else int(source_item_id), str(source_id),
                                 status == EntryStatus.QUARANTINED))
        out.append(sorted(described, key=lambda h: (h.distance, h.entry_id)))
    return out


# Constant text (the tables' own column names), no outside input; ``{}`` takes one placeholder per id.
_DESCRIBE_SQL = (
    "SELECT e.id, e.bank_id, e.status, e.signal_type, e.classification, e.scheme, e.verdict, e.source_item_id,"  # noqa: S608
    f" e.source_id, b.name, b.kind, b.trusted, b.pdq_radius FROM {Entry._meta.db_table} e"
    f" JOIN {Bank._meta.db_table} b ON b.id = e.bank_id WHERE e.id IN ({{}})"
)
_DESCRIBE_ONE = _DESCRIBE_SQL.format("%s")  # the common case, a hit on one entry: the text built once


# ---------------------------------------------------------------- the pipeline: match each capture

def media_signals(media: Media) -> list[tuple[str, str]]:
    signals = [(t, v) for t, v in (("sha256", media.sha256), ("md5", media.md5), ("sha1", media.sha1)) if v]
    if media.kind == "video" and media.md5:
        signals.append(("video_md5", media.md5))
    if media.pdq and (media.pdq_quality or 0) >= settings.HOTLINE_PDQ_MIN_QUALITY:
        signals.append(("pdq", media.pdq))
    return signals


def _inherit(media: Media, hits: list[Hit]) -> set[int]:
    """An exact hit in a trusted (or our own) bank gives the media its verdict, unless a known-benign
    list also knows it. Returns the entries the verdict rests on (every hit with the verdict taken)."""
    if any(h.negative for h in hits):
        return set()
    exact = [h for h in hits if h.gives_verdict]
    if not exact:
        return set()
    best = max(exact, key=lambda h: VERDICT_STRENGTH.get(h.verdict, 0))
    media.inherited_verdict = best.verdict
    media.inherited_from = f"{best.bank} (entry {best.entry_id}, {best.signal_type})"[:300]
    return {h.entry_id for h in exact if h.verdict == best.verdict}


def match_capture(capture: Capture, *, now: datetime) -> dict[str, int]:
    """Match every media file of ``capture``; record matches, inherited verdicts and re-uploads."""
    media = prepared.instances("hashes.capture_media", _capture_media, capture=capture.pk)  # compiled once
    inherited = [(m.inherited_verdict, m.inherited_from) for m in media]
    signals = [media_signals(m) for m in media]
    flat = [s for group in signals for s in group]
    results = lookup(flat)
    matches: list[MediaMatch] = []
    position = 0
    for m, group in zip(media, signals, strict=True):
        hits = [h for hits in results[position:position + len(group)] for h in hits]
        position += len(group)
        supports = _inherit(m, hits)
        matches += [MediaMatch(media=m, entry_id=h.entry_id, bank_id=h.bank_id, signal_type=h.signal_type,
                               distance=h.distance, matched_at=now, inherited=h.entry_id in supports) for h in hits]
    MediaMatch.objects.bulk_create(matches, ignore_conflicts=True)
    # Only the files whose inherited verdict changed are written (the others would be written as they are).
    changed = [m for m, was in zip(media, inherited, strict=True) if (m.inherited_verdict, m.inherited_from) != was]
    if changed:
        Media.objects.bulk_update(changed, ["inherited_verdict", "inherited_from"])
    known = [m.inherited_verdict for m in media]
    read_verdict = capture.known_verdict
    if media and all(v in ILLEGAL for v in known):
        capture.known_verdict = max(known, key=lambda v: VERDICT_STRENGTH[v])
    capture.matched_at = now  # written by the claim (``match_due``); the known verdict only when it changed
    if capture.known_verdict != read_verdict:
        capture.save(update_fields=["matched_at", "known_verdict"])
    if matches and trust.check_floods({m.entry_id for m in matches}, now=now):
        capture.refresh_from_db(fields=["known_verdict"])
    earlier = _reupload_sources(capture.item, media, results)
    return {"media": len(media), "matches": len(matches), "known": sum(1 for v in known if v),
            "reupload_of": len(earlier)}


def _capture_media(capture: int) -> QuerySet[Media]:
    return Media.objects.filter(capture=capture, is_bad=False).exclude(sha256="")


def _reupload_sources(item: Item, media: list[Media], results: list[list[Hit]]) -> set[int]:
    """Earlier items whose known files re-appear here: the source items of bank hits, and earlier
    items found illegal whose captures hold identical files. Files merely shared with unassessed
    pages (a common banner) do not count. Both reads compiled once per padded length (``prepared.padded``)."""
    from_banks = {h.source_item_id for hits in results for h in hits if h.source_item_id and not h.negative}
    same_files = {int(pk) for (pk,) in prepared.rows(
        "hashes.same_files", _illegal_items_with, sha256=prepared.padded([m.sha256 for m in media]))
    } if media else set()
    candidates = (from_banks | same_files) - {item.pk}
    earlier = {int(pk) for (pk,) in prepared.rows(
        "hashes.earlier_items", _reported_by, pk=prepared.padded(sorted(candidates)), at=item.first_reported_at)
    } if candidates else set()
    if earlier:
        item.reupload_of.add(*earlier)
        Item.objects.filter(pk=item.pk).update(priority=Greatest(F("priority"), Value(REUPLOAD_PRIORITY)))
    return earlier


def _illegal_items_with(sha256: list[str]) -> QuerySet[Media, tuple[Any, ...]]:
    return Media.objects.filter(sha256__in=sha256, item__verdict__in=ILLEGAL).values_list("item_id")


def _reported_by(pk: list[int], at: datetime) -> QuerySet[Item, tuple[Any, ...]]:
    return Item.objects.filter(pk__in=pk, first_reported_at__lte=at).values_list("pk")


def _unmatched() -> QuerySet[Capture]:
    return Capture.objects.filter(outcome="captured", matched_at__isnull=True)


def match_due(*, now: datetime, limit: int = 20) -> bool:
    """Match captures that are not matched yet (``hotline.hashes.steps.match_step``); returns whether there
    were any. Each capture is taken by a conditional UPDATE inside its own transaction, so a crash rolls
    back and the capture is matched again."""
    if not prepared.any_row("hashes.unmatched", _unmatched):  # compiled once: the idle call costs one query
        return False
    # Read with their items in one query (was one query each, after its UPDATE); each is then taken by its
    # conditional UPDATE. What the match uses of the row (its item, its empty known verdict) does not change
    # before a capture is matched, and a capture is matched once: what was read still holds once it is taken.
    due = prepared.instances("hashes.due_captures", functools.partial(_due_captures, limit), vary=limit)
    for capture in due:
        pk = capture.pk
        with transaction.atomic():
            if prepared.update("hashes.take_capture", _take_capture, capture=pk, now=now) != 1:
                continue
            counts = match_capture(capture, now=now)
            record(SYSTEM, actions.ITEM_MATCHED, capture.item, now=now, after={"capture": pk, **counts,
                                                                       "known_verdict": capture.known_verdict})
    return bool(due)


def _due_captures(limit: int) -> QuerySet[Capture]:
    return _unmatched().select_related("item").order_by("started_at")[:limit]


def _take_capture(capture: int, now: datetime) -> tuple[QuerySet[Capture], dict[str, Any]]:
    return Capture.objects.filter(pk=capture, matched_at__isnull=True), {"matched_at": now}


def overrule_inherited(media: Media, *, user: User, reason: str) -> None:
    """An analyst disagrees with a verdict inherited from a bank: it stops applying to this file, and every
    other verdict resting only on the same entries goes back to people (``trust.overrule``)."""
    trust.overrule(media, user=user, reason=reason)
