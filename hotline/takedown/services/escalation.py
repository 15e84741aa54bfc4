"""The escalation ladder (HOTLINE_TAKEDOWN_ESCALATION): rungs applied in order to an item that stays online,
e.g. after 2 repeats also notify the upstream network, the registrar and the site owner; after 7 days flag
the item to the police and the managers. Each takedown remembers how many rungs it has climbed."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import tldextract
from django.db import connection, transaction
from django.db.models import Case, F, Field, Q, QuerySet, Value, When
from django.db.models.functions import Cast

from hotline.audit.services import SYSTEM, Change, record_many
from hotline.lib import prepared
from hotline.lib.claim import skip_locked
from hotline.takedown import actions, conf
from hotline.takedown.conf import Rung
from hotline.takedown.models import (
    EscalationContact,
    EscalationRole,
    NoticeKind,
    Takedown,
    TakedownState,
)
from hotline.takedown.services.notices import add_to_batches, latest_located_traces
from hotline.tracing.models import AbuseContact, Trace


def escalate_due(*, now: datetime, limit: int = 200) -> bool:
    """Climb the ladder for up to ``limit`` takedowns whose next rung may be due (``escalation_step``).
    Returns whether any.

    One transaction for the batch: the takedowns are locked (skipped when another worker holds them), their
    escalation contacts read in one query, then saved and audited set-wise. A crash rolls the whole batch
    back, so a rung is neither lost nor applied twice."""
    if not prepared.any_row("takedown.escalation_due", Takedown.objects.escalation_due, now=now):
        return False  # compiled once: the idle call's one query
    found = prepared.rows("takedown.escalation_ids", functools.partial(_due_ids, limit=limit), vary=limit, now=now)
    if not found:  # nothing due: no write transaction (on SQLite it would hold off every other writer)
        return False
    with transaction.atomic():
        takedowns = prepared.instances("takedown.escalation_batch", _due_batch, now=now,
                                       ids=prepared.padded([pk for (pk,) in found]))
        _climb(takedowns, now)
    return True


def _due_ids(*, now: datetime, limit: int) -> QuerySet[Takedown, int]:
    """The ids of up to ``limit`` takedowns whose next rung may be due, the earliest first."""
    return Takedown.objects.escalation_due(now).order_by("next_escalation_at", "pk").values_list(
        "pk", flat=True)[:limit]


def _due_batch(*, now: datetime, ids: list[int]) -> QuerySet[Takedown]:
    """These takedowns, still due, with their items and providers; locked, skipping rows another worker holds."""
    due = Takedown.objects.escalation_due(now).filter(pk__in=ids)
    return skip_locked(due.select_related("item", "provider").order_by("next_escalation_at", "pk"), of=("self",))


@transaction.atomic
def escalate(takedown_id: int, *, now: datetime) -> list[int]:
    """Apply every rung of one takedown that is due now; schedule the next look. Returns the rung numbers
    applied."""
    takedown = Takedown.objects.select_for_update(of=("self",)).select_related("item", "provider").get(pk=takedown_id)
    return _climb([takedown], now)[takedown.pk]


def _climb(takedowns: list[Takedown], now: datetime) -> dict[int, list[int]]:
    rungs = conf.ladder()
    contacts = _Contacts.of(takedowns, {role for rung in rungs for role in rung.notify})
    applied: dict[int, list[int]] = {}
    changes: list[Change] = []
    notify: list[tuple[Takedown, AbuseContact, str]] = []
    for takedown in takedowns:
        applied[takedown.pk] = _climb_one(takedown, rungs, contacts, changes, notify, now)
    _notify(notify, now)
    _write(takedowns)
    record_many(SYSTEM, changes, now=now)
    return applied


# Takedowns written per UPDATE: each list of a statement is at most this long (SQLite's parameters stay few).
_WRITE_CHUNK = 64
_FLAGS = ("police_flagged_at", "managers_flagged_at")


def _write(takedowns: list[Takedown]) -> None:
    """What ``Takedown.objects.bulk_update(takedowns, ["escalation_rung", "next_escalation_at", *_FLAGS])``
    writes, in UPDATEs compiled once per process (per power of two of each list's length): each takedown's rung
    and next look (NULL where there is none), and each flag that is set. A flag that is not set is left as it is:
    NULL, as read, the row locked since (PostgreSQL) or the database's write lock held (SQLite)."""
    for start in range(0, len(takedowns), _WRITE_CHUNK):
        chunk = takedowns[start:start + _WRITE_CHUNK]
        columns: dict[str, list[tuple[int, prepared.Value]]] = {
            "escalation_rung": [(t.pk, t.escalation_rung) for t in chunk],
            "next_escalation_at": [(t.pk, t.next_escalation_at) for t in chunk if t.next_escalation_at is not None],
            **{flag: [(t.pk, getattr(t, flag)) for t in chunk if getattr(t, flag) is not None] for flag in _FLAGS}}
        written = {name: prepared.to_power_of_two(pairs) for name, pairs in columns.items() if pairs}
        values: dict[str, prepared.Values] = {"ids": prepared.padded([t.pk for t in chunk])}
        for name, pairs in written.items():
            values[f"{name} ids"], values[name] = [pk for pk, _ in pairs], [value for _, value in pairs]
        prepared.update("takedown.escalation_write", _escalation_write, vary=tuple(sorted(written)), **values)


def _escalation_write(*, ids: list[int], **given: list[Any]) -> tuple[QuerySet[Takedown], dict[str, Any]]:
    """The UPDATE of ``_write``: per column written, ``CASE WHEN id = … THEN …`` for the rows given (``<column>
    ids`` and ``<column>``), else NULL (the next look) or the column as it is (the rung, a flag)."""
    changes: dict[str, Any] = {}
    for name in ("escalation_rung", "next_escalation_at", *_FLAGS):
        field = Takedown._meta.get_field(name)
        assert isinstance(field, Field)
        otherwise = Value(None, output_field=field) if name == "next_escalation_at" else F(name)
        if name not in given:
            if name == "next_escalation_at":
                changes[name] = otherwise
            continue
        case: Any = Case(*[When(pk=pk, then=Value(value, output_field=field))
                           for pk, value in zip(given[f"{name} ids"], given[name], strict=True)],
                         default=otherwise, output_field=field)
        changes[name] = Cast(case, output_field=field) if connection.features.requires_casted_case_in_updates \
            else case
    return Takedown.objects.filter(pk__in=ids), changes


def _climb_one(takedown: Takedown, rungs: list[Rung], contacts: _Contacts, changes: list[Change],
               notify: list[tuple[Takedown, AbuseContact, str]], now: datetime) -> list[int]:
    if takedown.first_notice_at is None or takedown.state == TakedownState.REMOVED:
        takedown.next_escalation_at = None
        return []
    if takedown.state == TakedownState.REMOVAL_PENDING:  # wait for the checker's verdict
        takedown.next_escalation_at = now + conf.miss_interval() + timedelta(minutes=1)
        return []
    applied = []
    while takedown.escalation_rung < len(rungs):
        rung = rungs[takedown.escalation_rung]
        due = rung_due_at(takedown, rung, now)
        if due is None or due > now:
            break
        changes.append(_apply(takedown, rung, takedown.escalation_rung, contacts, notify, now))
        applied.append(takedown.escalation_rung)
        takedown.escalation_rung += 1
    upcoming = rungs[takedown.escalation_rung] if takedown.escalation_rung < len(rungs) else None
    takedown.next_escalation_at = rung_due_at(takedown, upcoming, now) if upcoming else None
    return applied


def rung_due_at(takedown: Takedown, rung: Rung, now: datetime) -> datetime | None:
    """When the rung applies; None while that cannot be known yet (a repeat count not reached: the next
    notice sent makes the step look again)."""
    if rung.after_days is not None:
        assert takedown.first_notice_at is not None
        return takedown.first_notice_at + timedelta(days=rung.after_days)
    return now if takedown.repeats >= (rung.after_repeats or 0) else None


def _apply(takedown: Takedown, rung: Rung, number: int, contacts: _Contacts,
           notify: list[tuple[Takedown, AbuseContact, str]], now: datetime) -> Change:
    notified, missing = [], []
    for role in rung.notify:
        contact = contacts.get(takedown, role)
        if contact is None:
            missing.append(role)
            continue
        notify.append((takedown, contact, role))
        notified.append(role)
    if "police" in rung.flag and takedown.police_flagged_at is None:
        takedown.police_flagged_at = now
    if ("managers" in rung.flag or missing) and takedown.managers_flagged_at is None:
        takedown.managers_flagged_at = now
    return Change(actions.ESCALATED, takedown.item, after={
        "rung": number, "notified": notified, "no_contact_for": missing, "flagged": list(rung.flag),
        "repeats": takedown.repeats})


def _notify(notify: list[tuple[Takedown, AbuseContact, str]], now: datetime) -> None:
    """Each item into the escalation batch of each contact to notify, per contact and role at once."""
    traces = latest_located_traces(sorted({takedown.item_id for takedown, _, _ in notify})) if notify else {}
    groups: dict[tuple[int, str], tuple[AbuseContact, list[tuple[Takedown, Trace | None, datetime | None]]]] = {}
    for takedown, contact, role in notify:
        entries = groups.setdefault((contact.pk, role), (contact, []))[1]
        if all(t.pk != takedown.pk for t, _, _ in entries):
            entries.append((takedown, traces[takedown.item_id], None))
    add_to_batches([(contact, NoticeKind.ESCALATION, role, entries)
                    for (_, role), (contact, entries) in groups.items()], now=now)


def escalation_contact(takedown: Takedown, role: str) -> AbuseContact | None:
    """Who plays ``role`` for this item: a contact for its registered domain, else one for its provider."""
    return _Contacts.of([takedown], {role}).get(takedown, role)


@dataclass
class _Contacts:
    """The escalation contacts of a batch of takedowns, read in one query: by (role, registered domain) and
    by (role, provider); the oldest row wins where several match."""

    by_domain: dict[tuple[str, str], AbuseContact]
    by_provider: dict[tuple[str, int], AbuseContact]

    @classmethod
    def of(cls, takedowns: list[Takedown], roles: set[str]) -> _Contacts:
        found = cls({}, {})
        if not takedowns or not roles:
            return found
        domains = sorted({registered_domain(t.item.host) for t in takedowns})
        providers = sorted({t.provider_id for t in takedowns if t.provider_id is not None})
        for row in _contact_rows_of(sorted(roles), domains, providers):
            if row.domain:
                found.by_domain[(row.role, row.domain)] = row.contact
            elif row.provider_id is not None:
                found.by_provider[(row.role, row.provider_id)] = row.contact
        return found

    def get(self, takedown: Takedown, role: str) -> AbuseContact | None:
        if role != EscalationRole.UPSTREAM:
            found = self.by_domain.get((role, registered_domain(takedown.item.host)))
            if found is not None:
                return found
        if takedown.provider_id is None:
            return None
        return self.by_provider.get((role, takedown.provider_id))


def _contact_rows_of(roles: list[str], domains: list[str], providers: list[int]) -> list[EscalationContact]:
    """``_contact_rows`` with SQL compiled once per process (one per power of two of each list's length)."""
    padded_roles, padded_domains = prepared.padded(roles), prepared.padded(domains)
    if not providers:
        return prepared.instances("takedown.escalation_domain_contacts", _contact_rows, roles=padded_roles,
                                  domains=padded_domains)
    return prepared.instances("takedown.escalation_contacts", _contact_rows, roles=padded_roles,
                              domains=padded_domains, providers=prepared.padded(providers))


def _contact_rows(*, roles: list[str], domains: list[str], providers: list[int] | None = None
                  ) -> QuerySet[EscalationContact]:
    """The escalation contacts for these roles by registered domain, or by provider (a row without a domain),
    newest first."""
    where = Q(domain__in=domains) | Q(provider_id__in=providers, domain="") if providers else Q(domain__in=domains)
    return EscalationContact.objects.filter(where, role__in=roles).select_related("contact").order_by("-pk")


@functools.lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@functools.lru_cache(maxsize=4096)
def registered_domain(host: str) -> str:
    """``www.shop.example.co.uk`` -> ``example.co.uk`` (offline public-suffix list); for a name under no
    listed suffix (``.test``, ``.example``, intranets) its last two labels. Kept per host: the answer depends on
    nothing but the host and the list the process loaded."""
    found: str = _extractor()(host).top_domain_under_public_suffix
    return found or ".".join(host.lower().rstrip(".").split(".")[-2:])
