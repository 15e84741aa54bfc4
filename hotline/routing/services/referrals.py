"""Delivering police referrals: an evidence package plus a structured summary, once, through a channel.

Crash safety: a referral is claimed with a lease (status `sending`, `next_attempt_at` = lease end) in its own
transaction before anything leaves the machine; the message id derives from the referral's key, so a worker that
dies mid-send is replaced by one that re-sends the same message, never a new one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from hotline.assessment.annotations import items_annotations
from hotline.audit.services import SYSTEM, Change, record, record_many
from hotline.evidence.bag import recipient_key_from_b64
from hotline.evidence.services import export_items
from hotline.lib import http as outbound
from hotline.lib import prepared, states
from hotline.lib.claim import skip_locked
from hotline.lib.mailwrite import LeanEmailMessage
from hotline.partners.models import PoliceContact
from hotline.reports.models import Item, ReportItem
from hotline.routing import actions
from hotline.routing.models import Referral, ReferralStatus
from hotline.tracing.models import Trace

LEASE = timedelta(minutes=10)


class DeliveryError(Exception):
    """Delivery failed; `retry` says whether trying again later can help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def message_id(referral: Referral) -> str:
    return f"<referral-{referral.key}@{settings.HOTLINE_MESSAGE_DOMAIN}>"


def _due(now: datetime) -> QuerySet[Referral]:
    return Referral.objects.delivery_due(now) | Referral.objects.lease_expired(now)


def _claim(now: datetime) -> Referral | None:
    """1. Take one due (or lease-expired) referral and mark it `sending` with a lease, in its own transaction."""
    if not prepared.any_row("routing.referral_due", _due, now=now):  # compiled once: the idle call's one query
        return None
    # read (on PostgreSQL locked) with SQL compiled once, claimed as claim_due claims: its own transaction, as there
    with transaction.atomic(savepoint=False):
        due = prepared.instances("routing.claim_referral", _claimable, now=now)
        claimed = Referral.claim_rows(due, now=now, lease=LEASE, limit=1, match=("status", "next_attempt_at"))
    if not claimed:
        return None
    return claimed[0].as_claimed(now=now, lease=LEASE)  # what the claim wrote, not read back


def _claimable(*, now: datetime) -> QuerySet[Referral]:
    """The first due (or lease-expired) referral a claim may take, with its police contact; on PostgreSQL locked,
    one another worker holds skipped (``Referral.claim_due``'s read with ``limit=1, scan=1``)."""
    due = Referral.claimable(_due(now)).select_related("police").order_by("next_attempt_at")
    return skip_locked(due, of=("self",))[:1]


def deliver_due_referral(*, now: datetime | None = None) -> bool:
    """Claim, package, send and record one due referral (``referral_step``). Returns whether it found work.
    Without ``now`` the outcome is recorded at the clock's time after the send."""
    started = now or timezone.now()
    referral = _claim(started)
    if referral is None:
        return False
    # read once (SQL compiled once per process): the package, the summary, the "sent" events
    items = prepared.instances("routing.referral_items", _items_of, referral=referral.pk)
    try:
        _ensure_package(referral, items, now=started)
        _deliver(referral)
    except DeliveryError as exc:
        _failed(referral, exc, now=now or timezone.now())
    else:
        _sent(referral, items, now=now or timezone.now())
    return True


def _items_of(referral: int) -> QuerySet[Item]:
    """A referral's items in the order of their ids (``referral.items.order_by("pk")``)."""
    return Item.objects.filter(referrals=referral).order_by("pk")


def _sent(referral: Referral, items: list[Item], *, now: datetime) -> None:
    with transaction.atomic():
        # ``referral.move(SENT, now=now, next_attempt_at=None, last_error="")``, its UPDATE compiled once per process
        states.moved_rows(Referral, ReferralStatus.SENT, prepared.update(
            "routing.referral_sent", _moved_sent, referral=referral.pk, now=now))
        after = {"referral": str(referral.key), "police": referral.police_id,
                 "package_sha256": referral.package_sha256, "attempt": referral.attempts}
        record_many(SYSTEM, [Change(actions.REFERRAL_SENT, ("reports.item", item.pk), after=after)
                             for item in items], now=now)


def _moved_sent(referral: int, now: datetime) -> tuple[QuerySet[Referral], dict[str, Any]]:
    return states.move_update(Referral.objects.filter(pk=referral), ReferralStatus.SENT, table=Referral.transitions,
                              now=now, field=Referral.state_field, next_attempt_at=None, last_error="")


def _failed(referral: Referral, exc: DeliveryError, *, now: datetime) -> None:
    with transaction.atomic():
        give_up = referral.retry_or_fail(str(exc), retry=exc.retry, max_attempts=settings.HOTLINE_REFERRAL_ATTEMPTS,
                                         now=now)
        record(SYSTEM, actions.REFERRAL_FAILED if give_up else actions.REFERRAL_RETRY, referral, now=now,
               after={"error": str(exc)[:500], "attempt": referral.attempts})


# --- the package and the summary ------------------------------------------------------------------


def summary(referral: Referral, items: list[Item] | None = None) -> dict[str, Any]:
    """The structured summary: what the police need to act, without media bytes. What it says about the
    items is read once for all of them (a referral may group many). ``items``: the referral's items in the
    order of their ids, when already read."""
    items = list(referral.items.order_by("pk")) if items is None else items
    ids = [item.pk for item in items]
    traces, reports = _traces_and_reports(ids)
    annotations = items_annotations(ids)
    return {
        "referral": str(referral.key), "organisation": settings.HOTLINE_ORGANISATION,
        "created_at": referral.created_at.isoformat(),
        "hold_until": referral.hold_until.isoformat() if referral.hold_until else None,
        "items": [_item_summary(item, traces.get(item.pk), reports[item.pk], annotations[item.pk]) for item in items],
        "package_sha256": referral.package_sha256 or None,
    }


def _traces_and_reports(ids: list[int]) -> tuple[dict[int, Trace], dict[int, list[str]]]:
    """The items' latest traces (with provider and CDN) and their reports' references, with SQL compiled once
    per process."""
    reports: dict[int, list[str]] = {pk: [] for pk in ids}
    if not ids:
        return {}, reports
    padded = prepared.padded(ids)
    traces = {t.item_id: t for t in prepared.instances("routing.referral_traces", _latest_traces, ids=padded)}
    for item_id, reference in prepared.rows("routing.referral_reports", _references, ids=padded):
        reports[item_id].append(reference)
    return traces, reports


def _latest_traces(ids: list[int]) -> QuerySet[Trace]:
    latest = Trace.objects.filter(item_id=OuterRef("item_id")).order_by("-traced_at", "-pk").values("pk")[:1]
    return Trace.objects.filter(item_id__in=ids, pk=Subquery(latest)).select_related("provider", "cdn")


def _references(ids: list[int]) -> QuerySet[ReportItem, tuple[int, str]]:
    """(item id, report reference) of the items' reports, in the order of the reports' ids."""
    return ReportItem.objects.filter(item_id__in=ids).order_by("report_id").values_list("item_id", "report__reference")


def _item_summary(item: Item, trace: Trace | None, reports: list[str], annotations: dict[str, Any]) -> dict[str, Any]:
    return {
        "item": item.pk, "url": item.canonical_url, "verdict": item.verdict,
        "first_reported_at": item.first_reported_at.isoformat(),
        "assessed_at": item.assessed_at.isoformat() if item.assessed_at else None,
        "reports": reports,
        # CyberTipline report and file annotations of the final assessment (docs/reports-without-url.md).
        "annotations": annotations,
        "trace": None if trace is None else {
            "traced_at": trace.traced_at.isoformat(), "country": trace.country,
            "addresses": [a.get("ip") for a in trace.addresses], "provider": str(trace.provider or ""),
            "cdn": str(trace.cdn or ""), "outcome": trace.outcome},
    }


def _ensure_package(referral: Referral, items: list[Item], *, now: datetime) -> None:
    """2. Build the signed (and, with a police key, encrypted) evidence package of ``items`` (the referral's, in
    the order of their ids) once; reuse it on a resend."""
    if referral.package_path and Path(referral.package_path).exists():
        return
    directory = Path(settings.HOTLINE_REFERRAL_DIR)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = settings.HOTLINE_POLICE_RECIPIENT_KEY
    target = directory / (f"referral-{referral.key}.hlbag" if key else f"referral-{referral.key}")
    if not target.exists():
        export_items(items, target, actor=SYSTEM,
                     organisation=settings.HOTLINE_ORGANISATION,
                     encrypt_to=recipient_key_from_b64(key) if key else None)
    referral.package_path, referral.package_sha256 = str(target), _sha256(target)
    referral.summary = summary(referral, items)
    Referral.objects.filter(pk=referral.pk).update(package_path=referral.package_path,
                                                   package_sha256=referral.package_sha256, summary=referral.summary)


def _sha256(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256((path / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --- channels -------------------------------------------------------------------------------------


def _deliver(referral: Referral) -> None:
    """3. Send through the contact's channel. Raises DeliveryError."""
    police = referral.police
    if police.channel == PoliceContact.Channel.HTTP:
        _post(referral, police)
    else:
        _email(referral, police)


def _body(referral: Referral) -> str:
    lines = [f"Police referral {referral.key} from {settings.HOTLINE_ORGANISATION}.", ""]
    for entry in referral.summary.get("items", []):
        trace = entry.get("trace") or {}
        lines.append(f"- item {entry['item']}: {entry['url']} verdict={entry['verdict']} "
                     f"country={trace.get('country', '?')} ip={','.join(trace.get('addresses') or [])}")
    hold = referral.summary.get("hold_until")
    lines += ["", f"Evidence-preservation hold until: {hold}" if hold else "No evidence-preservation hold.",
              f"Evidence package SHA-256: {referral.package_sha256}"]
    if not settings.HOTLINE_POLICE_RECIPIENT_KEY:
        lines.append("The package is kept at the hotline for collection (no police encryption key configured).")
    return "\n".join(lines) + "\n"


def _email(referral: Referral, police: PoliceContact) -> None:
    if not police.email:
        raise DeliveryError(f"police contact {police.pk} has no e-mail address", retry=False)
    message = LeanEmailMessage(subject=f"[{settings.HOTLINE_ORGANISATION}] Police referral {str(referral.key)[:8]}",
                           body=_body(referral), to=[police.email], headers={"Message-ID": message_id(referral)})
    message.attach("summary.json", json.dumps(referral.summary, indent=1, sort_keys=True), "application/json")
    package = Path(referral.package_path)
    if package.is_file():
        message.attach(package.name, package.read_bytes(), "application/octet-stream")
    try:
        message.send(fail_silently=False)
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"SMTP: {exc}", retry=True) from exc


def _post(referral: Referral, police: PoliceContact) -> None:
    """Multipart POST through the pinned outbound client: the endpoint is staff-entered, but a private,
    reserved or metadata address is refused (never retried) and the name is resolved only once."""
    if not police.endpoint:
        raise DeliveryError(f"police contact {police.pk} has no endpoint", retry=False)
    package = Path(referral.package_path)
    files: dict[str, tuple[str, bytes, str]] = {
        "summary": ("summary.json", json.dumps(referral.summary, sort_keys=True).encode(), "application/json")}
    if package.is_file():
        files["package"] = (package.name, package.read_bytes(), "application/octet-stream")
    headers = {"Idempotency-Key": str(referral.key), "User-Agent": f"{settings.HOTLINE_ORGANISATION} referrals"}
    try:
        response = outbound.request("POST", police.endpoint, policy=outbound.outbound_policy(timeout=30),
                                    files=files, headers=headers)
    except outbound.FetchError as exc:
        reason = "refused" if exc.code in outbound.FINAL_CODES else "failed"
        raise DeliveryError(f"HTTP {reason}: {exc}", retry=exc.retryable) from exc
    status = response.status_code
    if status >= 500 or status == 429:
        raise DeliveryError(outbound.answer_summary(status, response.body), retry=True)
    if status >= 300:
        raise DeliveryError(outbound.answer_summary(status, response.body), retry=False)
