"""Self-referral: take the hashes a young person's browser computed, have two analysts confirm them
(without ever seeing an image), find them in what we captured before and since, and say how many of
those places are gone. Every change is audited in its own transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hotline.accounts.models import User
from hotline.audit.services import SYSTEM, Actor, record
from hotline.evidence.models import Media
from hotline.hashes.models import Bank, BankKind, Entry, EntryStatus, MediaMatch, move_entry
from hotline.hashes.services import bump_version
from hotline.lib.claim import claim_due
from hotline.partners.models import Forward
from hotline.selfreferral import actions
from hotline.selfreferral.models import (
    BANK_NAME,
    CLASSIFICATION,
    Referral,
    ReferralHash,
    ReferralStatus,
    code_digest,
    move_referral,
    new_code,
)
from hotline.takedown.models import Takedown, TakedownState

PUBLIC = Actor(label="public")
MAX_FILES = 20
MAX_FRAMES = 120
SCAN_CHUNK = 5000
SCAN_LEASE = timedelta(minutes=10)
# After the backfill, new media are scanned this often (video frames: the capture matcher only
# compares whole-file hashes and image PDQs).
RESCAN_EVERY = timedelta(minutes=15)
BANK_PROVENANCE = ("hashes computed on young people's own devices (self-referral page); never seen by us; "
                   "each referral confirmed by two analysts")
_HEX = {"sha256": 64, "md5": 32, "pdq": 64}
_PDQ = re.compile("[0-9a-fA-F]{64}")


class SubmissionError(ValueError):
    """The hashes sent are not what the page sends; the message names the file and field."""


class FourEyesError(Exception):
    pass


# ---------------------------------------------------------------- the bank

def self_referral_bank() -> Bank:
    """The bank (made by this app's data migration; made again, audited, if it was deleted)."""
    with transaction.atomic():
        bank, created = Bank.objects.get_or_create(name=BANK_NAME, defaults={
            "kind": BankKind.IMPORT, "trusted": False, "shared_via_api": True, "provenance": BANK_PROVENANCE})
        if created:
            record(SYSTEM, actions.BANK_CREATED, bank, after={"name": bank.name, "kind": bank.kind, "trusted": False})
    return bank


# ---------------------------------------------------------------- what the page sends

@dataclass(frozen=True)
class Signal:
    file_index: int
    media_kind: str
    signal_type: str
    value: str
    quality: int | None = None
    frame_time: float | None = None


@dataclass
class Submission:
    files: int = 0
    signals: list[Signal] = field(default_factory=list)


def _hex(value: object, kind: str, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(f"[0-9a-f]{{{_HEX[kind]}}}", value.lower()):
        raise SubmissionError(f"{where}: {kind} must be {_HEX[kind]} hexadecimal characters")
    return value.lower()


def _quality(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise SubmissionError(f"{where}: quality must be a whole number from 0 to 100")
    return value


def _file_signals(index: int, item: object) -> list[Signal]:
    where = f"file {index + 1}"
    if not isinstance(item, dict) or item.get("kind") not in ("image", "video"):
        raise SubmissionError(f"{where}: kind must be image or video")
    kind = str(item["kind"])
    signals = [Signal(index, kind, "sha256", _hex(item.get("sha256"), "sha256", where)),
               Signal(index, kind, "md5", _hex(item.get("md5"), "md5", where))]
    min_quality: int = settings.HOTLINE_PDQ_MIN_QUALITY
    if kind == "video":
        signals.append(Signal(index, kind, "video_md5", signals[1].value))
        frames = item.get("frames", [])
        if not isinstance(frames, list) or len(frames) > MAX_FRAMES:
            raise SubmissionError(f"{where}: frames must be a list of at most {MAX_FRAMES}")
        for number, frame in enumerate(frames):
            at = f"{where}, frame {number + 1}"
            if not isinstance(frame, dict) or not isinstance(frame.get("t"), int | float):
                raise SubmissionError(f"{at}: needs t (seconds), pdq and quality")
            value, quality = _hex(frame.get("pdq"), "pdq", at), _quality(frame.get("quality"), at)
            if quality >= min_quality:
                signals.append(Signal(index, kind, "pdq", value, quality, float(frame["t"])))
    elif item.get("pdq") is not None:
        value, quality = _hex(item.get("pdq"), "pdq", where), _quality(item.get("quality"), where)
        if quality >= min_quality:
            signals.append(Signal(index, kind, "pdq", value, quality))
    return signals


def parse_submission(raw: str) -> Submission:
    """The page's JSON (``[{kind, sha256, md5, pdq, quality} | {kind: "video", …, frames: [{t, pdq,
    quality}]}]``), strictly: anything else is refused with the file and field named. PDQs below
    ``HOTLINE_PDQ_MIN_QUALITY`` are left out (they would match unrelated images)."""
    try:
        files = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise SubmissionError("the hashes are not valid JSON") from exc
    if not isinstance(files, list) or not files:
        raise SubmissionError("choose at least one image or video")
    if len(files) > MAX_FILES:
        raise SubmissionError(f"at most {MAX_FILES} files at a time")
    return Submission(files=len(files), signals=[s for i, f in enumerate(files) for s in _file_signals(i, f)])


# ---------------------------------------------------------------- the young person's side

@transaction.atomic
def submit_referral(submission: Submission, *, email: str = "", language: str = "",
                    now: datetime | None = None) -> tuple[Referral, str]:
    """A new referral whose hashes wait, as pending entries of the bank, for two analysts. Returns the
    referral and its code: shown once, stored only as a digest."""
    now = now or timezone.now()
    code = new_code()
    referral = Referral.objects.create(code_digest=code_digest(code), submitted_at=now, language=language[:8],
                                       contact_email=email.strip()[:254])
    bank = self_referral_bank()
    links = []
    for signal in dict.fromkeys(submission.signals):
        entry, _ = Entry.objects.get_or_create(
            bank=bank, signal_type=signal.signal_type, value=signal.value,
            defaults={"classification": CLASSIFICATION, "scheme": "hotline", "quality": signal.quality,
                      "status": EntryStatus.PENDING, "added_at": now,
                      "extra": {"self_referral": True, "media_kind": signal.media_kind}})
        links.append(ReferralHash(referral=referral, entry=entry, file_index=signal.file_index,
                                  media_kind=signal.media_kind, signal_type=signal.signal_type,
                                  frame_time=signal.frame_time, quality=signal.quality))
    ReferralHash.objects.bulk_create(links, ignore_conflicts=True)
    record(PUBLIC, actions.SELFREFERRAL_SUBMITTED, referral, now=now,
           after={"files": submission.files, "hashes": len(links), "contact": bool(referral.contact_email)})
    return referral, code


def find_by_code(code: str) -> Referral | None:
    return Referral.objects.filter(code_digest=code_digest(code)).first() if code else None


@dataclass(frozen=True)
class PublicStatus:
    status: str
    places: int
    removed: int


def public_status(referral: Referral) -> PublicStatus:
    """What the code's owner sees: the stage, and once confirmed, in how many places (items) their
    files were found and in how many of those they are gone. Never a URL."""
    if referral.status != ReferralStatus.CONFIRMED:
        return PublicStatus(referral.status, 0, 0)
    items = set(MediaMatch.objects.filter(entry__in=referral.hashes.values("entry"))
                .values_list("media__item_id", flat=True))
    gone = Takedown.objects.filter(item__in=items, state=TakedownState.REMOVED)
    removed = set(gone.values_list("item_id", flat=True))
    removed |= set(Forward.objects.filter(item__in=items, removed_at__isnull=False).values_list("item_id", flat=True))
    return PublicStatus(referral.status, len(items), len(removed & items))


# ---------------------------------------------------------------- the analysts' side (four eyes)

def _entries(referral: Referral) -> Sequence[int]:
    return list(referral.hashes.values_list("entry_id", flat=True))


@transaction.atomic
def confirm_referral(referral: Referral, *, user: User, now: datetime | None = None) -> str:
    """First analyst: ``first_confirmed``. A second, different analyst: ``confirmed``, the entries
    match from now on and the backfill over everything captured before is due at once."""
    now = now or timezone.now()
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    before = {"status": referral.status}
    query = Referral.objects.filter(pk=referral.pk)
    if referral.status == ReferralStatus.SUBMITTED:
        move_referral(query, ReferralStatus.FIRST_CONFIRMED, now=now, first_confirmed_by=user)
    elif referral.first_confirmed_by_id == user.pk:
        raise FourEyesError("you confirmed this referral already; a different analyst must confirm it")
    else:
        move_referral(query, ReferralStatus.CONFIRMED, now=now, confirmed_by=user, scan_due_at=now)
        move_entry(Entry.objects.filter(pk__in=_entries(referral)), EntryStatus.ACTIVE, now=now, strict=False,
                   confirmed_by=user)
        bump_version()
    referral.refresh_from_db()
    # A value disabled before (a senior analyst's false positive, a withdrawn referral) stays disabled.
    disabled = Entry.objects.filter(pk__in=_entries(referral), status=EntryStatus.DISABLED).count()
    record(Actor.of_user(user), actions.SELFREFERRAL_CONFIRMED, referral, now=now, before=before,
           after={"status": referral.status, "entries_left_disabled": disabled})
    return referral.status


def _release_entries(referral: Referral, *, now: datetime, reason: str) -> int:
    """Disable the entries no other live referral still needs (our own or a partner's entries with the
    same value live in other banks and are untouched)."""
    live = ReferralHash.objects.filter(~Q(referral=referral), referral__status__in=(
        ReferralStatus.SUBMITTED, ReferralStatus.FIRST_CONFIRMED, ReferralStatus.CONFIRMED)).values("entry")
    query = Entry.objects.filter(pk__in=_entries(referral)).exclude(pk__in=live)
    moved = move_entry(query, EntryStatus.DISABLED, now=now, strict=False, disabled_reason=reason[:1000])
    bump_version()
    return moved


@transaction.atomic
def reject_referral(referral: Referral, *, user: User, reason: str, now: datetime | None = None) -> None:
    """Either analyst may refuse a referral that is not plausible (say why). Its entries were never
    active and stay pending: they match nothing unless another referral with the same file is
    confirmed by two analysts (disabling them would block that one for good)."""
    if not reason.strip():
        raise ValueError("say why the referral is not accepted")
    now = now or timezone.now()
    before = {"status": referral.status}
    move_referral(Referral.objects.filter(pk=referral.pk), ReferralStatus.REJECTED, now=now,
                  closed_reason=reason.strip()[:1000], scan_due_at=None)
    record(Actor.of_user(user), actions.SELFREFERRAL_REJECTED, referral, now=now, before=before,
           after={"reason": reason.strip()[:1000]})


@transaction.atomic
def withdraw_referral(referral: Referral, *, now: datetime | None = None) -> None:
    """The code's owner takes the request back: its hashes stop matching and are no longer offered."""
    now = now or timezone.now()
    before = {"status": referral.status}
    move_referral(Referral.objects.filter(pk=referral.pk), ReferralStatus.WITHDRAWN, now=now, scan_due_at=None,
                  contact_email="")
    disabled = _release_entries(referral, now=now, reason=f"self-referral {referral.pk} withdrawn")
    record(PUBLIC, actions.SELFREFERRAL_WITHDRAWN, referral, now=now, before=before,
           after={"entries_disabled": disabled})


# ---------------------------------------------------------------- finding: the backfill and video frames

def _bits(hexes: Sequence[str]) -> npt.NDArray[np.uint8]:
    if not hexes:
        return np.zeros((0, 256), dtype=np.uint8)
    return np.unpackbits(np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, 32), axis=1)


def _near(found: list[tuple[int, str]], wanted: dict[str, int], radius: int) -> list[tuple[int, int, int]]:
    """(media pk, entry pk, distance) for every found PDQ within ``radius`` of a wanted one."""
    found = [(pk, h.lower()) for pk, h in found if isinstance(h, str) and _PDQ.fullmatch(h)]
    if not found or not wanted:
        return []
    values = list(wanted)
    distances = (_bits([h for _, h in found])[:, None, :] != _bits(values)[None, :, :]).sum(axis=2)
    rows, cols = np.nonzero(distances <= radius)
    return [(found[r][0], wanted[values[c]], int(distances[r, c])) for r, c in zip(rows, cols, strict=True)]


def scan_media(referral: Referral, first: int, last: int, *, now: datetime) -> int:
    """Match the media with ``first < pk <= last`` against the referral's active entries (exact hashes,
    image PDQs and every video frame's PDQ); record each hit as a ``MediaMatch``. Returns new hits."""
    entries = {(t, v): pk for pk, t, v in Entry.objects.filter(pk__in=_entries(referral), status=EntryStatus.ACTIVE)
               .values_list("pk", "signal_type", "value")}
    in_range = Media.objects.filter(pk__gt=first, pk__lte=last, is_bad=False)
    hits: list[tuple[int, int, int, str]] = []
    for signal_type, column in (("sha256", "sha256"), ("md5", "md5")):
        values = {v: pk for (t, v), pk in entries.items() if t == signal_type}
        for media_pk, value in in_range.filter(**{f"{column}__in": list(values)}).values_list("pk", column):
            hits.append((media_pk, values[value], 0, signal_type))
    wanted = {v: pk for (t, v), pk in entries.items() if t == "pdq"}
    if wanted:
        min_quality: int = settings.HOTLINE_PDQ_MIN_QUALITY
        found: list[tuple[int, str]] = []
        for media_pk, pdq, quality, frames in in_range.filter(~Q(pdq="") | Q(kind="video")).values_list(
                "pk", "pdq", "pdq_quality", "vpdq"):
            if pdq and (quality or 0) >= min_quality:
                found.append((media_pk, pdq))
            found += [(media_pk, f["pdq"]) for f in frames or [] if isinstance(f, dict) and f.get("pdq")
                      and int(f.get("q", 0)) >= min_quality]
        radius = self_referral_bank().pdq_radius
        best: dict[tuple[int, int], int] = {}
        for media_pk, entry_pk, distance in _near(found, wanted, radius):
            best[(media_pk, entry_pk)] = min(distance, best.get((media_pk, entry_pk), 256))
        hits += [(m, e, d, "pdq") for (m, e), d in best.items()]
    bank_id = self_referral_bank().pk
    known = set(MediaMatch.objects.filter(entry__in=entries.values(), media__in={h[0] for h in hits})
                .values_list("media_id", "entry_id"))
    new = [MediaMatch(media_id=m, entry_id=e, bank_id=bank_id, signal_type=t, distance=d, matched_at=now)
           for m, e, d, t in hits if (m, e) not in known]
    MediaMatch.objects.bulk_create(new, ignore_conflicts=True)
    return len({(m.media_id, m.entry_id) for m in new})


def scan_due(*, now: datetime, chunk: int = SCAN_CHUNK) -> bool:
    """Take one confirmed referral whose scan is due (a lease on ``scan_due_at``) and scan the next
    ``chunk`` media after its cursor (the worker step is ``steps.scan_step``). A referral confirmed today
    is thereby matched against everything captured before; afterwards new media are scanned every
    ``RESCAN_EVERY``. Returns whether a referral was due."""
    claimed = claim_due(Referral.objects.scan_due(now), limit=1, update={"scan_due_at": now + SCAN_LEASE},
                        match=("scan_due_at", "status"))
    if not claimed:
        return False
    referral = claimed[0]
    top = Media.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last = min(top, referral.scanned_through + chunk)
    with transaction.atomic():
        found = scan_media(referral, referral.scanned_through, last, now=now) if last > referral.scanned_through else 0
        more = last < top
        Referral.objects.filter(pk=referral.pk, status=ReferralStatus.CONFIRMED).update(
            scanned_through=last, scan_due_at=now if more else now + RESCAN_EVERY)
        if found:
            record(SYSTEM, actions.SELFREFERRAL_FOUND, referral, now=now,
                   after={"new_matches": found, "scanned_through": last})
    return True
