"""Tracing's services: tracing an item (resolve, place every address, pick provider, CDN and abuse
contact, keep a snapshot), origins, re-trace requests, and edits of the provider directory.

``trace_item`` is called by the worker (first trace, retries) and by routing and takedown before
every outbound action. Network work (DNS, RDAP) runs outside any transaction; the snapshot, its
audit event and the retry schedule are written in one. Directory edits (``save_provider`` from the
edit page, ``merge_provider`` for each imported record) are audited in their transaction.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import ProtectedError, QuerySet

from hotline.audit.services import SYSTEM, Actor, Change, record, record_many
from hotline.lib import claim, prepared
from hotline.lib.dnsresolve import DnsOutcome, Resolution, resolve_host
from hotline.lib.geo import is_public
from hotline.reports.models import Item, ItemStatus
from hotline.tracing import actions
from hotline.tracing.conf import TraceConfig, config_from_settings
from hotline.tracing.locate import Located, decide_country, locate, locate_many, rdap_problem
from hotline.tracing.models import AbuseContact, Provider, ProviderNetwork, Trace, TraceDue, TraceOutcome
from hotline.tracing.providers import network_row, preferred_contact, preferred_contacts
from hotline.tracing.schema import ContactIn, ProviderIn

log = logging.getLogger("hotline.tracing")
LEASE = timedelta(minutes=10)
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6))


@dataclass
class _Snapshot:
    """Everything a new Trace row holds, gathered before the transaction."""

    host: str
    outcome: str
    error: list[str] = field(default_factory=list)
    cname_chain: list[str] = field(default_factory=list)
    located: list[Located] = field(default_factory=list)
    cdn: Provider | None = None
    origin: str = ""
    #: Addresses carried over as they were (the CDN edge, when an origin is recorded).
    carried: list[dict[str, Any]] = field(default_factory=list)


# ------------------------------------------------------------------------------------ tracing


def trace_item(item: Item, *, now: datetime, config: TraceConfig | None = None) -> Trace:
    """Trace ``item`` now and keep the snapshot. DNS failures are recorded, never raised."""
    return trace_items([item], now=now, config=config)[0]


def trace_items(items: list[Item], *, now: datetime, config: TraceConfig | None = None) -> list[Trace]:
    """Trace several items now (a notice's re-trace), one snapshot and one audit event each, as ``trace_item``
    would: one DNS resolution per host, every address placed once (the RDAP cache, the provider directory
    and the previous snapshots read once for all), and one transaction for every snapshot, its audit event
    and its retry schedule. Returns the traces in the order of ``items``."""
    config = config or config_from_settings()
    resolutions: dict[str, Resolution] = {}
    for item in items:
        if item.host not in resolutions:
            resolutions[item.host] = resolve_host(item.host, config=config.resolver)
    return _trace_resolved(items, resolutions, now=now, config=config)


def _trace_resolved(items: list[Item], resolutions: dict[str, Resolution], *, now: datetime,
                    config: TraceConfig) -> list[Trace]:
    """``trace_items`` once every host is resolved (``resolutions``: by host)."""
    snapshots = {}
    for item in items:
        resolution = resolutions[item.host]
        snapshots[item.pk] = _Snapshot(resolution.host, _outcome(resolution),
                                       [resolution.error] if resolution.error else [], list(resolution.cname_chain))
    resolved = [item for item in items if resolutions[item.host].outcome == DnsOutcome.OK]
    # the newest located snapshots, read once: where an origin was learned, and whether this one differs
    previous = Trace.objects.latest_located_many([item.pk for item in resolved])
    _place(resolved, snapshots, resolutions, previous, config, now)
    return _save(items, snapshots, previous, now=now, config=config,
                 transient={item.pk: resolutions[item.host].transient for item in items})


def _outcome(resolution: Resolution) -> str:
    return {DnsOutcome.OK: TraceOutcome.OK, DnsOutcome.NXDOMAIN: TraceOutcome.NXDOMAIN,
            DnsOutcome.SERVFAIL: TraceOutcome.SERVFAIL, DnsOutcome.TIMEOUT: TraceOutcome.TIMEOUT,
            DnsOutcome.NO_ADDRESS: TraceOutcome.NO_ADDRESS}.get(resolution.outcome, TraceOutcome.ERROR)


def _place(items: list[Item], snapshots: dict[int, _Snapshot], resolutions: dict[str, Resolution],
           previous: dict[int, Trace], config: TraceConfig, now: datetime) -> None:
    if not items:
        return
    addresses = {item.pk: list(resolutions[item.host].addresses)[: config.max_addresses] for item in items}
    located = locate_many([ip for ips in addresses.values() for ip in ips], role="address", config=config, now=now)
    for item in items:
        snapshot, found = snapshots[item.pk], resolutions[item.host].addresses
        if len(found) > config.max_addresses:
            snapshot.error.append(f"{len(found)} addresses; the first {config.max_addresses} placed")
        snapshot.located = [located[ip] for ip in addresses[item.pk]]
        snapshot.cdn = next((p.match.provider for p in snapshot.located if p.is_cdn and p.match), None)
        before = previous.get(item.pk)
        if snapshot.cdn is not None and before is not None and before.origin_address \
                and before.cdn_id == snapshot.cdn.pk:
            # The origin learned earlier still sits behind the same CDN: keep placing the item there.
            snapshot.origin = before.origin_address
            snapshot.located.append(locate(snapshot.origin, role="origin", config=config, now=now))


def _hosting(snapshot: _Snapshot) -> list[Located]:
    """The addresses that say where the content is: the origin when known, else what DNS gave."""
    origin = [p for p in snapshot.located if p.role == "origin"]
    return origin or snapshot.located


class _Directory:
    """The directory as one batch sees it: each provider's preferred contact read once for all
    (``preferred_contacts``), and a provider or contact made from RDAP made once, not once per item."""

    def __init__(self, snapshots: list[_Snapshot]) -> None:
        providers = {p.match.provider.pk for s in snapshots for p in s.located if p.match}
        self.found = preferred_contacts(providers | {s.cdn.pk for s in snapshots if s.cdn is not None})
        self.from_rdap: dict[tuple[str, ...], Any] = {}

    def contact(self, provider: Provider) -> AbuseContact | None:
        if provider.pk not in self.found:  # a provider created from RDAP during this batch
            self.found[provider.pk] = preferred_contact(provider)
        return self.found[provider.pk]

    def provider_from_rdap(self, place: Located) -> Provider | None:
        network = place.rdap.network
        key = ("provider", network.registrant or network.name or network.handle) if network else ("",)
        if key not in self.from_rdap:
            self.from_rdap[key] = _provider_from_rdap(place)
        return self.from_rdap[key]  # type: ignore[no-any-return]

    def contact_from_rdap(self, provider: Provider, place: Located) -> AbuseContact | None:
        network = place.rdap.network
        key = ("contact", str(provider.pk), network.abuse_emails[0] if network and network.abuse_emails else "")
        if key not in self.from_rdap:
            self.from_rdap[key] = _contact_from_rdap(provider, place)
        return self.from_rdap[key]  # type: ignore[no-any-return]


def _provider_and_contact(snapshot: _Snapshot, hosting: list[Located],
                          directory: _Directory) -> tuple[Provider | None, AbuseContact | None]:
    place = hosting[0] if hosting else None
    provider = place.match.provider if place and place.match else None
    if provider is None and place is not None:
        provider = directory.provider_from_rdap(place)
    contact = directory.contact(provider) if provider is not None else None
    if contact is None and provider is not None and place is not None:
        contact = directory.contact_from_rdap(provider, place)
    if snapshot.cdn is not None and (not snapshot.origin or contact is None):
        # Behind a CDN with no (reachable) origin: the notice asks the CDN to act or disclose the origin.
        contact = directory.contact(snapshot.cdn) or contact
    return provider, contact


def _provider_from_rdap(place: Located) -> Provider | None:
    network = place.rdap.network
    name = (network.registrant or network.name or network.handle) if network else ""
    if network is None or not name:
        return None
    provider, created = Provider.objects.get_or_create(name=name[:200], defaults={
        "country": network.country, "notes": f"Created from RDAP ({network.handle}) while tracing."})
    if created:
        record(SYSTEM, actions.PROVIDER_CREATED_FROM_RDAP, provider,
               after={"name": provider.name, "country": provider.country, "rdap_handle": network.handle})
    return provider


def _contact_from_rdap(provider: Provider, place: Located) -> AbuseContact | None:
    network = place.rdap.network
    if network is None or not network.abuse_emails:
        return None
    contact, created = AbuseContact.objects.get_or_create(
        provider=provider, email=network.abuse_emails[0],
        defaults={"name": network.abuse_name[:200], "source": AbuseContact.Source.RDAP})
    if created:
        record(SYSTEM, actions.CONTACT_CREATED_FROM_RDAP, contact,
               after={"provider": provider.pk, "email": contact.email, "rdap_handle": network.handle})
    return contact


@transaction.atomic
def _save(items: list[Item], snapshots: dict[int, _Snapshot], previous: dict[int, Trace], *, now: datetime,
          config: TraceConfig, transient: dict[int, bool]) -> list[Trace]:
    """The snapshots as new traces (``changed`` against ``previous``, the newest located trace of each item),
    their retry schedules and audit events, set-wise."""
    directory = _Directory(list(snapshots.values()))
    traces = [_new_trace(item, snapshots[item.pk], previous.get(item.pk), directory, now) for item in items]
    prepared.insert(traces)  # ``bulk_create``'s INSERT, compiled once per number of traces
    retry = _schedule(items, traces, now=now, config=config, transient=transient)
    record_many(SYSTEM, [Change(actions.ITEM_TRACED if trace.outcome == TraceOutcome.OK else actions.ITEM_TRACE_FAILED,
                                item, after=_audit_summary(trace, retry.get(item.pk)))
                         for item, trace in zip(items, traces, strict=True)], now=now)
    return traces


def _new_trace(item: Item, snapshot: _Snapshot, previous: Trace | None, directory: _Directory,
               now: datetime) -> Trace:
    trace = Trace(item=item, traced_at=now, host=snapshot.host, outcome=snapshot.outcome,
                  cname_chain=snapshot.cname_chain,
                  addresses=snapshot.carried + [p.as_json() for p in snapshot.located],
                  cdn=snapshot.cdn, origin_address=snapshot.origin)
    if snapshot.outcome == TraceOutcome.OK:
        _decide(trace, snapshot, directory)
    if trace.outcome == TraceOutcome.OK and previous is not None:
        trace.changed = (previous.country, previous.provider_id) != (trace.country, trace.provider_id)
    trace.error = "\n".join(e for e in snapshot.error if e)[:4000]
    return trace


def _decide(trace: Trace, snapshot: _Snapshot, directory: _Directory) -> None:
    hosting = _hosting(snapshot)
    decision = decide_country(hosting)
    trace.country, trace.country_signals, trace.country_disputed = (
        decision.country, decision.signals, decision.disputed)
    if not decision.country:
        trace.outcome = TraceOutcome.UNLOCATED
        snapshot.error.append("no data set places " + ", ".join(p.ip for p in hosting))
    trace.provider, trace.abuse_contact = _provider_and_contact(snapshot, hosting, directory)
    snapshot.error += [problem for p in snapshot.located if (problem := rdap_problem(p))]
    if trace.abuse_contact is None:
        snapshot.error.append("no abuse contact in the directory or in RDAP")


def _schedule(items: list[Item], traces: list[Trace], *, now: datetime, config: TraceConfig,
              transient: dict[int, bool]) -> dict[int, datetime]:
    """Transient DNS failures come back with backoff (up to max_attempts); anything else is done. Returns
    the retry times by item."""
    locked = prepared.objects("tracing.lock_due", lambda ids: TraceDue.objects.select_for_update().filter(
        item_id__in=ids), ids=prepared.padded([item.pk for item in items]))
    due = {row.item_id: row for row in locked}
    done, new, moved, retry = [], [], [], {}
    for item, trace in zip(items, traces, strict=True):
        row = due.get(item.pk)
        attempts = (row.attempts if row else 0) + 1
        if not transient[item.pk] or attempts >= config.max_attempts:
            if row is not None:
                done.append(row.pk)
            continue
        retry[item.pk] = retry_at = now + RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
        if row is None:
            new.append(TraceDue(item=item, due_at=retry_at, attempts=attempts, last_outcome=trace.outcome,
                                created_at=now))
        else:
            row.due_at, row.attempts, row.last_outcome = retry_at, attempts, trace.outcome
            moved.append(row)
    if done:
        TraceDue.objects.filter(pk__in=done).delete()
    TraceDue.objects.bulk_create(new)
    TraceDue.objects.bulk_update(moved, ["due_at", "attempts", "last_outcome"])
    return retry


def _audit_summary(trace: Trace, retry_at: datetime | None) -> dict[str, Any]:
    return {
        "trace": trace.pk, "host": trace.host, "outcome": trace.outcome, "country": trace.country,
        "signals": trace.country_signals, "disputed": trace.country_disputed,
        "addresses": [a["ip"] for a in trace.addresses], "provider": trace.provider_id,
        "abuse_contact": trace.abuse_contact_id, "cdn": trace.cdn_id, "origin": trace.origin_address,
        "changed": trace.changed, "retry_at": retry_at.isoformat() if retry_at else None,
    }


# ------------------------------------------------------------------------------------ origins


class OriginError(ValueError):
    pass


def record_origin(item: Item, address: str, *, actor: Actor, now: datetime,
                  config: TraceConfig | None = None) -> Trace:
    """An origin learned later (a CDN's disclosure, an analyst's finding): a new snapshot placed there."""
    try:
        origin = str(ipaddress.ip_address(address.strip()))
    except ValueError as exc:
        raise OriginError(f"origin address: {address[:60]!r} is not an IP address") from exc
    if not is_public(origin):
        raise OriginError(f"origin address: {origin} is not a public address")
    latest = Trace.objects.latest_located(item.pk)
    if latest is None:
        raise OriginError("the item has no successful trace yet to add an origin to")
    config = config or config_from_settings()
    placed = locate(origin, role="origin", config=config, now=now)
    edge = [a for a in latest.addresses if a.get("role") != "origin"]
    snapshot = _Snapshot(latest.host, TraceOutcome.OK, cname_chain=list(latest.cname_chain),
                         located=[placed], cdn=latest.cdn, origin=origin, carried=edge)
    with transaction.atomic():
        trace = _save([item], {item.pk: snapshot}, {item.pk: latest}, now=now, config=config,
                      transient={item.pk: False})[0]
        record(actor, actions.ITEM_ORIGIN_RECORDED, item, now=now,
               after={"trace": trace.pk, "origin": origin, "cdn": trace.cdn_id, "country": trace.country})
    return trace


# ------------------------------------------------------------------------------------ the directory


def _provider_facts(provider: Provider) -> dict[str, Any]:
    return {
        "name": provider.name, "country": provider.country, "is_cdn": provider.is_cdn,
        "networks": sorted(str(n) for n in provider.networks.all()),
        "contacts": sorted(f"{c.channel}:{c.email or c.endpoint}" for c in provider.contacts.all()),
    }


def _set_fields(provider: Provider, data: ProviderIn, *, merge: bool) -> list[str]:
    changed = []
    values = {"name": data.name, "country": data.country, "is_cdn": data.is_cdn, "website": data.website,
              "notes": data.notes}
    for name, value in values.items():
        if merge and value in ("", False) and name != "name":
            continue  # an import line that leaves a column empty keeps what the directory has
        if getattr(provider, name) != value:
            setattr(provider, name, value)
            changed.append(name)
    return changed


def _sync_networks(provider: Provider, data: ProviderIn, *, merge: bool) -> None:
    existing: dict[tuple[int | None, str], ProviderNetwork] = {(n.asn, n.cidr): n for n in provider.networks.all()}
    wanted: set[tuple[int | None, str]] = {(asn, "") for asn in data.asns} | {(None, cidr) for cidr in data.cidrs}
    if not merge:
        ProviderNetwork.objects.filter(pk__in=[n.pk for key, n in existing.items() if key not in wanted]).delete()
    ProviderNetwork.objects.bulk_create(
        [network_row(provider, asn=asn, cidr=cidr) for asn, cidr in sorted(wanted - set(existing), key=str)])


def _contact_fields(contact: AbuseContact, data: ContactIn) -> list[str]:
    changed = []
    for name in ("name", "email", "endpoint", "channel", "language", "repeat_hours"):
        if getattr(contact, name) != getattr(data, name):
            setattr(contact, name, getattr(data, name))
            changed.append(name)
    return changed


def _sync_contacts(provider: Provider, contacts: list[ContactIn], *, merge: bool,
                   delete_ids: frozenset[int] = frozenset()) -> None:
    by_id = {c.pk: c for c in provider.contacts.all()}
    by_address = {(c.email or c.endpoint): c for c in by_id.values()}
    for data in contacts:
        contact = by_id.get(data.id) if data.id else by_address.get(data.email or data.endpoint)
        if contact is None:
            contact = AbuseContact(provider=provider, source=AbuseContact.Source.DIRECTORY)
            _contact_fields(contact, data)
            contact.save()
        elif fields := _contact_fields(contact, data):
            contact.save(update_fields=fields)
    doomed = [c for pk, c in by_id.items() if pk in delete_ids]
    if not merge:
        try:
            AbuseContact.objects.filter(pk__in=[c.pk for c in doomed]).delete()
        except ProtectedError as exc:
            raise ValueError("contacts: a contact that notices or traces refer to cannot be deleted") from exc


@transaction.atomic
def save_provider(provider: Provider | None, data: ProviderIn, *, actor: Actor,
                  delete_contacts: frozenset[int] = frozenset()) -> Provider:
    """Create or edit a provider with exactly these networks and contacts (the edit page)."""
    before = _provider_facts(provider) if provider is not None else None
    provider = provider or Provider()
    if provider.pk is None:
        _set_fields(provider, data, merge=False)
        provider.save()
    elif fields := _set_fields(provider, data, merge=False):
        provider.save(update_fields=fields)
    _sync_networks(provider, data, merge=False)
    _sync_contacts(provider, data.contacts, merge=False, delete_ids=delete_contacts)
    record(actor, actions.PROVIDER_CREATED if before is None else actions.PROVIDER_UPDATED, provider,
           before=before, after=_provider_facts(provider))
    return provider


@transaction.atomic
def merge_provider(data: ProviderIn, *, actor: Actor, origin: str) -> tuple[Provider, bool]:
    """Add one imported record to the directory: networks and contacts are added, never removed."""
    provider = Provider.objects.select_for_update().filter(name=data.name).first()
    created = provider is None
    before = None if provider is None else _provider_facts(provider)
    provider = provider or Provider()
    fields = _set_fields(provider, data, merge=True)
    if created:
        provider.save()
    elif fields:
        provider.save(update_fields=fields)
    _sync_networks(provider, data, merge=True)
    _sync_contacts(provider, data.contacts, merge=True)
    after = _provider_facts(provider)
    if before != after:
        record(actor, actions.PROVIDER_IMPORTED, provider, before=before, after={**after, "from": origin})
    return provider, created


# ------------------------------------------------------------------------------------ the worker


@transaction.atomic
def request_trace(item: Item, *, actor: Actor, now: datetime) -> TraceDue:
    """Ask the worker to trace ``item`` as soon as it can (the re-trace button)."""
    due, created = TraceDue.objects.get_or_create(item=item, defaults={"due_at": now, "created_at": now})
    if not created and due.due_at > now:
        due.due_at = now
        due.save(update_fields=["due_at"])
    record(actor, actions.ITEM_TRACE_REQUESTED, item, now=now)
    return due


def _untraced() -> QuerySet[Item]:
    return Item.objects.filter(status=ItemStatus.ASSESSED, verdict__in=settings.HOTLINE_TRACE_VERDICTS,
                               traces__isnull=True, trace_due__isnull=True)


def enqueue_untraced(now: datetime, *, limit: int = 500) -> int:
    """Due rows for assessed items with a traced verdict and no trace yet (idempotent)."""
    if not prepared.any_row("tracing.untraced", _untraced, vary=tuple(settings.HOTLINE_TRACE_VERDICTS)):
        return 0
    verdicts = tuple(settings.HOTLINE_TRACE_VERDICTS)
    ids = [pk for (pk,) in prepared.rows("tracing.untraced_ids", functools.partial(_untraced_ids, limit),
                                         vary=(verdicts, limit))]
    TraceDue.objects.bulk_create([TraceDue(item_id=pk, due_at=now, created_at=now) for pk in ids],
                                 ignore_conflicts=True)
    return len(ids)


def _untraced_ids(limit: int) -> QuerySet[Item, tuple[int]]:
    return _untraced().order_by("assessed_at", "pk").values_list("pk")[:limit]


def claim_due(now: datetime, limit: int) -> list[TraceDue]:
    """Lease up to ``limit`` due rows (SKIP LOCKED on PostgreSQL, a conditional UPDATE elsewhere); nothing
    claimed, and no write transaction opened, when a probe compiled once says none is due."""
    if not prepared.any_row("tracing.due", TraceDue.objects.due, now=now) or limit <= 0:
        return []
    with transaction.atomic(savepoint=False):  # as ``claim.claim_due``: the read and the claim in one transaction
        rows = prepared.instances("tracing.claim_due", functools.partial(_claimable, limit), vary=limit, now=now)
        return claim.claim_rows(TraceDue, rows, limit=limit, move=_leased, values={"due_at": now + LEASE},
                                name="lease", match=("due_at",))


def _claimable(limit: int, *, now: datetime) -> QuerySet[TraceDue]:
    """What ``claim.claim_due`` reads of the due rows (compiled once per process): on PostgreSQL the first ``limit``,
    locked, those another worker holds skipped; elsewhere ``limit * 3`` candidates, each claimed if still due as
    read."""
    due = TraceDue.objects.due(now)
    return claim.skip_locked(due)[:limit] if connection.vendor == "postgresql" else due[:limit * 3]


def _leased(rows: QuerySet[TraceDue], values: Mapping[str, Any]) -> tuple[QuerySet[TraceDue], dict[str, Any]]:
    """The claim's write: the lease (``due_at`` moved on)."""
    return rows, dict(values)


def trace_due(*, now: datetime, config: TraceConfig | None = None, concurrency: int = 8) -> bool:
    """Queue untraced items, then trace the due ones, several at a time (``steps.trace_step``); return
    whether there was work."""
    rows = claim_due(now, concurrency)
    if not rows and enqueue_untraced(now):  # queue new work only when the due rows are done
        rows = claim_due(now, concurrency)
    if not rows:
        return False
    config = config or config_from_settings()
    items = prepared.objects("tracing.claimed_items", lambda ids: Item.objects.filter(pk__in=ids).order_by("pk"),
                             ids=prepared.padded([r.item_id for r in rows]))
    if len(items) == 1:
        trace_item(items[0], now=now, config=config)
        return True
    try:
        _trace_batch(items, now=now, config=config, concurrency=concurrency)
    except Exception:
        # As before this batch path: a failing item is logged, the others are still traced (each alone, in
        # threads); the failing one's lease expires and the row comes back: a crash costs a delay, never the item.
        log.exception("tracing %d items at once failed; tracing them one at a time", len(items))
        claim.run_in_threads(lambda item: trace_item(item, now=now, config=config), items, workers=concurrency,
                             describe=lambda item: f"trace of item {item.pk}", logger=log)
    return True


def _trace_batch(items: list[Item], *, now: datetime, config: TraceConfig, concurrency: int) -> list[Trace]:
    """``trace_items`` for the claimed batch, with the hosts resolved several at a time (DNS waits on the
    network; no database work in those threads): the directory, the RDAP cache and the previous snapshots
    read once for the batch, and one transaction for its snapshots, audit events and retry schedules
    (was one ``trace_item`` per item, each in a thread with a database connection of its own)."""
    hosts = list(dict.fromkeys(item.host for item in items))
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(hosts)))) as pool:
        found = list(pool.map(lambda host: resolve_host(host, config=config.resolver), hosts))
    return _trace_resolved(items, dict(zip(hosts, found, strict=True)), now=now, config=config)
