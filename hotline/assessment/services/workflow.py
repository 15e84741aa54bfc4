"""The analyst workflow: claim, assess, release, second review. One audited function per verb."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, ForeignObject, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from hotline.accounts.models import ASSESSING_ROLES, REVIEWING_ROLES, User
from hotline.assessment import actions
from hotline.assessment.codes import (
    BORDERLINE_REASONS,
    FILE_ANNOTATIONS,
    ILLEGAL_VERDICTS,
    REPORT_ANNOTATIONS,
    UNAVAILABLE_REASONS,
    AgeGroup,
    LegalLimb,
    Verdict,
    annotation_field,
)
from hotline.assessment.derivation import ITEM_ONLY_VERDICTS, MEDIA_VERDICTS, deciding, item_verdict
from hotline.assessment.models import Assessment, Kind, MediaAssessment
from hotline.audit.services import SYSTEM, Actor, Change, record, record_many
from hotline.evidence.models import Capture, Media
from hotline.hashes.services import adds_entries, entries_from_assessment, own_bank, own_bank_id
from hotline.lib import prepared
from hotline.lib.claim import skip_locked
from hotline.reports.models import AWAITING_ASSESSMENT, InvalidTransition, Item, ItemStatus

# CyberTipline annotations (codes.REPORT_ANNOTATIONS, codes.FILE_ANNOTATIONS) as field names.
REPORT_ANNOTATION_FIELDS = tuple(annotation_field(code) for code in REPORT_ANNOTATIONS)
FILE_ANNOTATION_FIELDS = tuple(annotation_field(code) for code in FILE_ANNOTATIONS)

FIELDS = (
    "verdict", "legal_limb", "content_type", "is_virtual", "is_manipulated", "is_self_generated",
    "is_child_modelling", "age_group", "gender", "site_type", "commerciality", "payment_method",
    "reason", "other_harm", "second_opinion", "notes", *REPORT_ANNOTATION_FIELDS, *FILE_ANNOTATION_FIELDS,
)


# The codes that describe one image or video (the rest describe the page).
MEDIA_FIELDS = (
    "verdict", "legal_limb", "content_type", "age_group", "gender", "is_virtual", "is_manipulated",
    "is_self_generated", "is_child_modelling", "reason", *FILE_ANNOTATION_FIELDS,
)


class WorkflowError(Exception):
    """The action is not possible now (not claimed, wrong status, same analyst reviewing...)."""


class AssessmentInvalid(WorkflowError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class MediaData:
    """What the analyst decided about one captured file (``media_id``); see ``validate``."""

    media_id: int
    verdict: str
    legal_limb: str = ""
    content_type: str = ""
    age_group: str = ""
    gender: str = ""
    is_virtual: bool = False
    is_manipulated: bool = False
    is_self_generated: bool = False
    is_child_modelling: bool = False
    reason: str = ""
    ann_generative_ai: bool = False
    ann_self_production: bool = False
    ann_viral: bool = False
    ann_live_streaming: bool = False
    inherited_from: str = ""

    def __post_init__(self) -> None:
        _tie_self_generation(self)

    def codes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MEDIA_FIELDS}


@dataclass(frozen=True)
class AssessmentData:
    """What the analyst decided. Only ``verdict`` is always required; see ``validate``.

    ``media`` holds one decision per captured file. Without it, an item-level verdict that a file can
    have (baseline, national, not illegal) applies to every file of the page; "unreachable" and "other
    harm" are item-level. With it, the item's verdict and codes follow from the files (``derivation``).
    """

    verdict: str
    legal_limb: str = ""
    content_type: str = ""
    is_virtual: bool = False
    is_manipulated: bool = False
    is_self_generated: bool = False
    is_child_modelling: bool = False
    age_group: str = ""
    gender: str = ""
    site_type: str = ""
    commerciality: str = ""
    payment_method: str = ""
    reason: str = ""
    other_harm: str = ""
    second_opinion: bool = False
    notes: str = ""
    ann_sextortion: bool = False
    ann_solicitation: bool = False
    ann_minor_to_minor: bool = False
    ann_generative_ai: bool = False
    ann_self_production: bool = False
    ann_viral: bool = False
    ann_live_streaming: bool = False
    media: tuple[MediaData, ...] = field(default=())

    def __post_init__(self) -> None:
        _tie_self_generation(self)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


def _tie_self_generation(data: MediaData | AssessmentData) -> None:
    """For illegal material the categorisation flag "self-generated" and the CyberTipline annotation
    "self-production" are one fact: either sets both (the workbench shows one tick). Other outcomes
    (a sextortion page, say) may carry the annotation alone; they have no categorisation."""
    if data.verdict in ILLEGAL_VERDICTS and data.is_self_generated != data.ann_self_production:
        object.__setattr__(data, "is_self_generated", True)
        object.__setattr__(data, "ann_self_production", True)


def validate(data: AssessmentData) -> dict[str, str]:
    """Return field -> problem for combinations the law or the codes do not allow."""
    errors: dict[str, str] = {}
    if not data.verdict:
        return {"verdict": "choose a verdict"}
    if data.verdict not in Verdict.values:
        return {"verdict": f"unknown verdict {data.verdict!r}"}
    if data.verdict in ILLEGAL_VERDICTS:
        for name in ("legal_limb", "content_type", "age_group"):
            if not getattr(data, name):
                errors[name] = "required when the material is illegal"
        if data.reason:
            errors["reason"] = "illegal material has no not-illegal reason"
    if data.verdict == Verdict.BASELINE:
        if data.legal_limb and data.legal_limb != LegalLimb.REAL_MINOR:
            errors["legal_limb"] = "baseline means a real child"
        if data.is_virtual:
            errors["is_virtual"] = "baseline means a real child, not virtual material"
        if data.age_group and data.age_group not in (AgeGroup.INFANT, AgeGroup.PREPUBESCENT):
            errors["age_group"] = "baseline means a child apparently under 13"
    if data.verdict == Verdict.NOT_ILLEGAL:
        if not data.reason:
            errors["reason"] = "say why it is not illegal"
        elif data.reason in UNAVAILABLE_REASONS:
            errors["reason"] = "this reason means the content was unavailable: use 'unreachable'"
    if data.verdict == Verdict.UNREACHABLE and data.reason not in UNAVAILABLE_REASONS:
        errors["reason"] = "say why the content could not be assessed"
    if data.verdict == Verdict.OTHER_HARM and not data.other_harm:
        errors["other_harm"] = "say which kind of harm"
    if data.verdict != Verdict.OTHER_HARM and data.other_harm:
        errors["other_harm"] = "only for the 'other harm' outcome"
    return errors


def needs_review(data: AssessmentData) -> bool:
    """Borderline verdicts go to a second analyst (four-eyes), as does any explicit request."""
    if data.second_opinion or data.reason in BORDERLINE_REASONS:
        return True
    if data.verdict == Verdict.NATIONAL:
        return True
    return data.verdict in ILLEGAL_VERDICTS and (
        data.legal_limb != LegalLimb.REAL_MINOR
        or data.age_group in (AgeGroup.PUBESCENT, AgeGroup.NOT_DETERMINED)
        or data.is_virtual
    )


def media_needs_review(row: MediaData) -> bool:
    return needs_review(AssessmentData(**row.codes()))


def _newest_capture(item: Item | int) -> QuerySet[Capture]:
    return Capture.objects.filter(item=item, outcome="captured").order_by("-started_at", "-pk")


def assessable_media(item: Item | int) -> QuerySet[Media]:
    """The files an analyst classifies: the good media of the item's newest successful capture (one query)."""
    newest = Subquery(_newest_capture(item).values("pk")[:1])
    return Media.objects.filter(capture=newest, is_bad=False).exclude(sha256="").order_by("pk")


class _File(NamedTuple):
    """The columns of one assessable file that deciding and the own bank read (``hashes.FileHashes``)."""

    pk: int
    sha256: str
    md5: str
    pdq: str
    pdq_quality: int | None
    inherited_verdict: str
    inherited_from: str


@dataclass(frozen=True)
class _Files:
    """An item's assessable files, read once per decision for deciding and for the own bank."""

    item: Item
    media: list[_File]

    @classmethod
    def of(cls, item: Item) -> _Files:
        # Compiled once (a subquery Django would build and compile on every decision), bound to the item.
        return cls(item, [_File(*row) for row in prepared.rows("assessment.files", _file_columns, item=item.pk)])

    def captured(self) -> bool:
        """Whether the item has a successful capture (a query only when it has no file)."""
        return bool(self.media) or _newest_capture(self.item).exists()


def _file_columns(item: int) -> QuerySet[Media, tuple[Any, ...]]:
    return assessable_media(item).values_list(*_File._fields)


def _known(media: Media | _File) -> MediaData:
    return MediaData(media.pk, media.inherited_verdict, inherited_from=media.inherited_from or "known content")


def resolve(item: Item, data: AssessmentData) -> tuple[AssessmentData, list[MediaData], dict[str, str]]:
    """The decision as it will be stored: one row per file (known files inherit, duplicates follow the
    first copy), the item's verdict and codes derived from them, and every problem found."""
    return _resolve(_Files.of(item), data)


def _resolve(files: _Files, data: AssessmentData) -> tuple[AssessmentData, list[MediaData], dict[str, str]]:
    media = files.media
    if not media or data.verdict == Verdict.UNREACHABLE:
        return replace(data, media=()), [], {}
    given = {m.media_id: m for m in data.media}
    if not given and data.verdict in ITEM_ONLY_VERDICTS:
        return data, [], {}
    page_wide = MediaData(0, data.verdict, **{n: getattr(data, n) for n in MEDIA_FIELDS if n != "verdict"})
    first_of: dict[str, int] = {}
    rows: list[MediaData] = []
    errors: dict[str, str] = {}
    for one in media:
        first = first_of.setdefault(one.sha256, one.pk)
        if one.inherited_verdict:
            rows.append(_known(one))
            continue
        chosen = given.get(one.pk) or given.get(first) or (page_wide if not given and data.verdict else None)
        if chosen is None:
            errors[f"media-{one.pk}-verdict"] = "classify every image and video (or the page as unreachable)"
            continue
        rows.append(replace(chosen, media_id=one.pk, inherited_from=""))
        for name, problem in validate(AssessmentData(**chosen.codes())).items():
            errors.setdefault(f"media-{first}-{name}", problem)
        if chosen.verdict not in MEDIA_VERDICTS:
            errors[f"media-{first}-verdict"] = "a file is baseline, national or not illegal"
    return _derived(data, rows), rows, errors


def _derived(data: AssessmentData, rows: Sequence[MediaData]) -> AssessmentData:
    extra = [data.verdict] if data.verdict in ITEM_ONLY_VERDICTS else []
    verdict = item_verdict([*extra, *(r.verdict for r in rows)])
    best = deciding(rows)
    if best is None or verdict in ITEM_ONLY_VERDICTS:
        return replace(data, verdict=verdict or data.verdict)
    codes = {n: getattr(best, n) for n in MEDIA_FIELDS}
    # A file annotation describes the item when any of its files carries it.
    codes |= {n: any(getattr(r, n) for r in rows) for n in FILE_ANNOTATION_FIELDS}
    return replace(data, **codes, other_harm="")


def check(item: Item, data: AssessmentData) -> dict[str, str]:
    """Every problem of ``data`` for ``item`` (field -> message), without saving anything."""
    return _checked(_Files.of(item), data)[2]


def _checked(files: _Files, data: AssessmentData) -> tuple[AssessmentData, list[MediaData], dict[str, str]]:
    effective, rows, errors = _resolve(files, data)
    errors = validate(effective) | errors if not rows else errors | _item_level_errors(effective)
    return effective, rows, errors


def _problems(files: _Files, data: AssessmentData) -> tuple[AssessmentData, list[MediaData], bool]:
    effective, rows, errors = _checked(files, data)
    if errors:
        raise AssessmentInvalid(errors)
    if rows:  # known files were decided by a bank, not by a hesitating analyst
        review = effective.second_opinion or any(media_needs_review(r) for r in rows if not r.inherited_from)
    else:
        review = needs_review(effective)
    return effective, rows, review


def _item_level_errors(data: AssessmentData) -> dict[str, str]:
    return {k: v for k, v in validate(data).items() if k not in MEDIA_FIELDS}


def _store_rows(assessment: Assessment, rows: Sequence[MediaData]) -> None:
    """The decision's per-file rows (``bulk_create``), with the INSERT kept per process and number of rows."""
    prepared.insert(_media_rows(assessment, rows))


def _media_rows(assessment: Assessment, rows: Sequence[MediaData]) -> list[MediaAssessment]:
    return [MediaAssessment(assessment=assessment, media_id=r.media_id, inherited=bool(r.inherited_from),
                            inherited_from=r.inherited_from[:300], **r.codes()) for r in rows]


def _media_verdicts(rows: Sequence[MediaData]) -> dict[int, str] | None:
    return {r.media_id: r.verdict for r in rows} if rows else None


def _claim_window() -> timedelta:
    return timedelta(minutes=settings.HOTLINE_CLAIM_MINUTES)


def _claimable_status(user: User) -> list[str]:
    statuses: list[str] = list(AWAITING_ASSESSMENT) if user.has_role(*ASSESSING_ROLES) else []
    if user.has_role(*REVIEWING_ROLES):
        statuses.append(ItemStatus.IN_REVIEW)
    return statuses


@transaction.atomic
def claim_item(item: Item, *, user: User, now: datetime | None = None) -> Item:
    """Lock ``item`` for ``user`` until the claim expires; refuse if someone else holds it.

    The conditional UPDATE must hit exactly one row, so two analysts can never both win.
    """
    now = now or timezone.now()
    statuses = _claimable_status(user)
    if item.status == ItemStatus.IN_REVIEW and _first_analyst_id(item) == user.pk:
        raise WorkflowError("you made the first assessment; a different analyst must review it")
    expires = now + _claim_window()
    won = prepared.update("assessment.claim", _claim, item=item.pk, user=user.pk, now=now, until=expires,
                          statuses=statuses) if statuses else 0  # compiled once per number of statuses
    if won != 1:
        raise WorkflowError("the item is claimed by someone else or cannot be claimed in its status")
    _reload(item, ("claimed_by", "claim_expires_at", "status"))
    record(Actor.of_user(user), actions.ITEM_CLAIMED, item, after={"until": expires.isoformat()}, now=now)
    return item


def _claim(item: int, user: int, now: datetime, until: datetime,
           statuses: list[str]) -> tuple[QuerySet[Item], dict[str, Any]]:
    """The claim's conditional UPDATE: free (or expired, or already the user's), in a claimable status."""
    free = Q(claimed_by__isnull=True) | Q(claim_expires_at__lt=now) | Q(claimed_by=user)
    return Item.objects.filter(free, pk=item, status__in=statuses), {"claimed_by": user, "claim_expires_at": until}


def _reload(item: Item, fields: tuple[str, ...] | None = None) -> None:
    """``item.refresh_from_db(fields=fields)`` (all fields when None) with its read compiled once per set of
    fields: the claim's read-back and the decision's re-read of the item, on every decision. An item with
    deferred fields is refreshed by Django as before."""
    if fields is None and item.get_deferred_fields():
        item.refresh_from_db()
        return
    fresh = prepared.get("assessment.item", functools.partial(_item_row, fields), vary=fields, item=item.pk)
    loaded = fresh.get_deferred_fields()
    for model_field in Item._meta.concrete_fields:
        if model_field.attname in loaded:
            continue
        setattr(item, model_field.attname, getattr(fresh, model_field.attname))
        if isinstance(model_field, ForeignObject) and model_field.is_cached(item):
            model_field.delete_cached_value(item)
    wanted = None if fields is None else set(fields)
    for related in [*Item._meta.related_objects, *Item._meta.private_fields]:
        if ((wanted is None or related.name in wanted) and related.is_relation
                and related.is_cached(item)):
            related.delete_cached_value(item)
    if fields is None:
        item._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    item._state.db = fresh._state.db


def _item_row(fields: tuple[str, ...] | None, item: int) -> QuerySet[Item]:
    found = Item._base_manager.filter(pk=item)
    return found if fields is None else found.only(*fields)


@transaction.atomic
def release_item(item: Item, *, user: User, now: datetime | None = None, skipped: bool = False) -> None:
    now = now or timezone.now()
    released = Item.objects.filter(pk=item.pk, claimed_by=user).update(
        claimed_by=None, claim_expires_at=None
    )
    if released != 1:
        raise WorkflowError("you do not hold a claim on this item")
    item.claimed_by, item.claim_expires_at = None, None
    record(Actor.of_user(user), actions.ITEM_SKIPPED if skipped else actions.ITEM_RELEASED, item, now=now)


def next_item(user: User, *, exclude: list[int] | None = None, now: datetime | None = None) -> Item | None:
    """Claim the first free item in the user's queue (review queue first for reviewers)."""
    now = now or timezone.now()
    queues = []
    if user.has_role(*REVIEWING_ROLES):
        queues.append(Item.objects.awaiting_review().exclude(assessments__analyst=user))
    if user.has_role(*ASSESSING_ROLES):
        queues.append(Item.objects.awaiting_assessment())
    free = Q(claimed_by__isnull=True) | Q(claim_expires_at__lt=now)
    for queue in queues:
        for candidate in queue.filter(free).exclude(pk__in=exclude or [])[:20]:
            try:
                return claim_item(candidate, user=user, now=now)
            except WorkflowError:
                continue  # taken by a colleague between the query and the claim
    return None


@transaction.atomic
def assess_item(
    item: Item, data: AssessmentData, *, user: User, now: datetime | None = None
) -> Assessment:
    """Record the first assessment; borderline verdicts go to review, others become final."""
    now = now or timezone.now()
    _require_claim(item, user, now, AWAITING_ASSESSMENT, ASSESSING_ROLES)
    files = _Files.of(item)
    data, rows, review = _problems(files, data)
    assessment = Assessment(
        item=item, analyst=user, created_at=now, kind=Kind.INITIAL, is_final=not review,
        **data.as_dict(),
    )
    prepared.insert([assessment])  # ``Assessment.objects.create``, its INSERT kept per process
    _store_rows(assessment, rows)
    before = {"status": item.status, "verdict": item.verdict}
    fields = item.transition(ItemStatus.IN_REVIEW if review else ItemStatus.ASSESSED, now=now)
    if not review:
        item.verdict = data.verdict
        fields.append("verdict")
    _unclaim(item, fields)
    after = {"status": item.status, "verdict": item.verdict, "assessment": data.as_dict(),
             "media": _audit_rows(rows)}
    decided = Change(actions.ITEM_ASSESSED, item, before, after)
    # A final verdict of one analyst: the hashes wait in our bank for a second analyst's confirmation.
    _record_decision(user, decided, None if review else files, data.verdict, _media_verdicts(rows),
                     analyst=user, reviewer=None, now=now)
    return assessment


@transaction.atomic
def review_item(
    item: Item, data: AssessmentData, *, user: User, now: datetime | None = None
) -> Assessment:
    """A second analyst's decision; it is final and notes whether it disagrees with the first."""
    now = now or timezone.now()
    _require_claim(item, user, now, {ItemStatus.IN_REVIEW}, REVIEWING_ROLES)
    files = _Files.of(item)
    data, rows, _ = _problems(files, data)
    first = _latest(item)
    if first is None:
        raise WorkflowError("there is no assessment to review")
    if first.analyst_id == user.pk:
        raise WorkflowError("you made the assessment under review; a different analyst must review it")
    Assessment.objects.filter(item=item, is_final=True).update(is_final=False)
    earlier = dict(first.media_assessments.values_list("media_id", "verdict"))
    disagrees = first.verdict != data.verdict or any(earlier.get(r.media_id, r.verdict) != r.verdict for r in rows)
    values = data.as_dict() | {"second_opinion": False}
    assessment = Assessment.objects.create(
        item=item, analyst=user, created_at=now, kind=Kind.REVIEW, reviews=first, is_final=True,
        disagrees=disagrees, **values,
    )
    _store_rows(assessment, rows)
    before = {"status": item.status, "verdict": item.verdict}
    fields = item.transition(ItemStatus.ASSESSED, now=now)
    item.verdict = data.verdict
    _unclaim(item, [*fields, "verdict"])
    after = {"status": item.status, "verdict": item.verdict, "disagrees": disagrees,
             "reviewed_assessment": first.pk, "assessment": values, "media": _audit_rows(rows)}
    decided = Change(actions.ITEM_REVIEWED, item, before, after)
    _record_decision(user, decided, files, data.verdict, _media_verdicts(rows), analyst=first.analyst or user,
                     reviewer=user, now=now)
    return assessment


def _record_decision(user: User, decided: Change, files: _Files | None, verdict: str,
                     media_verdicts: dict[int, str] | None, *, analyst: User, reviewer: User | None,
                     now: datetime) -> None:
    """Append the decision's event (``user`` acted) and, for a final verdict (``files`` given), put the files'
    hashes in our own bank with its event (``analyst`` acted; ``hashes.entries_from_assessment``): one
    append for both events when one analyst is the actor of both."""
    actor = Actor.of_user(user)
    pending = [decided]
    if files is None or not adds_entries(verdict, media_verdicts) or not files.captured():
        record_many(actor, pending, now=now)
        return
    bank = own_bank_id()
    if bank is None:  # the bank's first use: it is made (and audited) after the decision's event, as always
        record_many(actor, pending, now=now)
        pending, bank = [], own_bank().pk
    proposal = entries_from_assessment(files.item, verdict, files.media, bank=bank, analyst=analyst,
                                       reviewer=reviewer, now=now, media_verdicts=media_verdicts)
    by = Actor.of_user(analyst)
    if by == actor:
        record_many(actor, [*pending, proposal], now=now)
    else:
        record_many(actor, pending, now=now)
        record_many(by, [proposal], now=now)


@transaction.atomic
def request_review(item: Item, *, user: User, reason: str, now: datetime | None = None) -> None:
    """Send an assessed item back to the review queue: a colleague disagrees with its verdict."""
    now = now or timezone.now()
    if not user.has_role(*ASSESSING_ROLES):
        raise WorkflowError("only analysts can ask for a review")
    if not reason.strip():
        raise AssessmentInvalid({"reason": "say why the verdict should be reviewed"})
    item = Item.objects.select_for_update().get(pk=item.pk)
    before = {"status": item.status}
    try:
        fields = item.transition(ItemStatus.IN_REVIEW, now=now)
    except InvalidTransition as exc:
        raise WorkflowError("only an assessed item can be sent back for review") from exc
    item.save(update_fields=fields)
    record(Actor.of_user(user), actions.ITEM_REVIEW_REQUESTED, item, before=before,
           after={"status": item.status, "reason": reason.strip()[:1000]}, now=now)


def _audit_rows(rows: Sequence[MediaData]) -> dict[str, Any]:
    return {str(r.media_id): {k: v for k, v in r.codes().items() if v} | (
        {"inherited_from": r.inherited_from} if r.inherited_from else {}) for r in rows}


def _latest(item: Item) -> Assessment | None:
    return Assessment.objects.filter(item=item).order_by("-created_at", "-pk").first()


def _first_analyst_id(item: Item) -> int | None:
    latest = _latest(item)
    return latest.analyst_id if latest else None


def _require_claim(
    item: Item, user: User, now: datetime, statuses: Collection[str], roles: frozenset[str]
) -> None:
    if not user.has_role(*roles):
        raise WorkflowError("your role does not allow this")
    _reload(item)
    if item.status not in statuses:
        raise WorkflowError(f"the item is {item.get_status_display().lower()}: it cannot be assessed now")
    if not item.is_claimed_by(user.pk, now):
        raise WorkflowError("claim the item first (or your claim has expired)")


def _unclaim(item: Item, fields: list[str]) -> None:
    """``item.save(update_fields=[*fields, "claimed_by", "claim_expires_at"])`` with the claim cleared, the UPDATE
    compiled once per set of fields (``prepared.update``: every decision writes it, and ``save`` built and compiled
    it each time). Raises as ``save`` does when the row is gone."""
    item.claimed_by, item.claim_expires_at = None, None
    values = {name: getattr(item, name) for name in fields}
    if not all(isinstance(value, str | datetime) for value in values.values()):  # a field cleared: the ORM writes it
        item.save(update_fields=[*fields, "claimed_by", "claim_expires_at"])
        return
    if prepared.update("assessment.decided", _decided, vary=tuple(fields), item=item.pk, **values) != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")


def _decided(item: int, **values: Any) -> tuple[QuerySet[Item], dict[str, Any]]:
    return Item._base_manager.filter(pk=item), values | {"claimed_by": None, "claim_expires_at": None}


def expire_claims(*, now: datetime, limit: int = 100) -> bool:
    """Clear expired claims, one audited event each (``steps.expire_claims_step``). Returns whether it
    found work."""
    with transaction.atomic():  # one UPDATE and one audit append for the batch, not a round trip per item
        # Locked (PostgreSQL; SQLite's IMMEDIATE transaction holds off other writers): a claim renewed meanwhile
        # is either skipped here or renewed after this clears it, never both.
        ids = list(skip_locked(Item.objects.claim_expired(now).order_by("pk")).values_list("pk", flat=True)[:limit])
        Item.objects.filter(pk__in=ids).update(claimed_by=None, claim_expires_at=None)
        record_many(SYSTEM, [Change(actions.ITEM_CLAIM_EXPIRED, ("reports.item", pk)) for pk in ids], now=now)
    return bool(ids)


def inherit_known(*, now: datetime, limit: int = 50) -> bool:
    """An item whose captured media are all known illegal content (exact matches in trusted banks) is
    assessed by inheritance, without an analyst viewing it (``HOTLINE_AUTO_ASSESS_KNOWN``; the worker step
    is ``steps.inherit_known_step``). Returns whether it found work.

    One transaction for the batch, a bounded number of queries: the due items read, then locked (skipped
    when another worker holds them; re-checked), their newest captures and known media read once, then one
    write per table."""
    if not settings.HOTLINE_AUTO_ASSESS_KNOWN:
        return False
    if not prepared.any_row("assessment.inherit_known", _known_due):  # compiled once: the idle call's one query
        return False
    due = _known_due()
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:limit])
    if not ids:  # nothing due: no write transaction (on SQLite it would hold off every other writer)
        return False
    with transaction.atomic():
        items = list(skip_locked(due.filter(pk__in=ids).order_by("pk")))
        newest = _newest_captures([item.pk for item in items])
        inheriting = [(item, newest[item.pk]) for item in items
                      if item.pk in newest and newest[item.pk].known_verdict in ILLEGAL_VERDICTS]
        _inherit(inheriting, now)
    return bool(items)


def _known_due() -> QuerySet[Item]:
    """Captured items, not claimed, with a capture whose media are all known illegal content."""
    known_capture = Capture.objects.filter(item=OuterRef("pk"), known_verdict__in=ILLEGAL_VERDICTS)
    return Item.objects.filter(Exists(known_capture), status=ItemStatus.CAPTURED, claimed_by__isnull=True)


def _newest_captures(item_ids: list[int]) -> dict[int, Capture]:
    newest: dict[int, Capture] = {}
    for capture in Capture.objects.filter(item__in=item_ids).order_by("item", "-started_at", "-pk"):
        newest.setdefault(capture.item_id, capture)
    return newest


def _inherit(inheriting: list[tuple[Item, Capture]], now: datetime) -> None:
    known: dict[int, list[Media]] = {capture.pk: [] for _, capture in inheriting}
    for media in Media.objects.filter(capture__in=list(known), is_bad=False).exclude(
            inherited_verdict="").order_by("pk"):
        known[media.capture_id].append(media)
    sources = {capture.pk: sorted({m.inherited_from for m in known[capture.pk]}) for _, capture in inheriting}
    assessments = Assessment.objects.bulk_create([
        Assessment(item=item, analyst=None, inherited=True, created_at=now, kind=Kind.INITIAL, is_final=True,
                   verdict=capture.known_verdict,
                   notes="Inherited from known content: " + "; ".join(sources[capture.pk])[:900])
        for item, capture in inheriting])
    MediaAssessment.objects.bulk_create([
        row for assessment, (_, capture) in zip(assessments, inheriting, strict=True)
        for row in _media_rows(assessment, [_known(m) for m in known[capture.pk]])])
    changes, fields = [], {"verdict"}
    for item, capture in inheriting:
        before = {"status": item.status, "verdict": item.verdict}
        fields.update(item.transition(ItemStatus.ASSESSED, now=now))
        item.verdict = capture.known_verdict
        changes.append(Change(actions.ITEM_ASSESSED_BY_INHERITANCE, item, before, {
            "status": item.status, "verdict": item.verdict, "capture": capture.pk, "sources": sources[capture.pk]}))
    Item.objects.bulk_update([item for item, _ in inheriting], sorted(fields))
    record_many(SYSTEM, changes, now=now)
