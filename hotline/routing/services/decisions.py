"""Routing: decide who must act on an item, record the decision with its inputs, start the action.

Rules (DOMAIN.md §1, issue #4): illegal and hosted at home → police referral first with an
evidence-preservation hold, then a notice to the provider; abroad with a partner hotline → forward to it;
abroad without one → the international police channel and, if configured, a direct notice; `other_harm`
takes its own configured route, never the CSAM route.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, F, Func, JSONField, OuterRef, QuerySet, Subquery, TextField, Value, When
from django.utils import timezone

from hotline.audit.services import SYSTEM, Actor, Change, record, record_many
from hotline.lib import claim, prepared
from hotline.partners.models import PartnerHotline, PoliceContact
from hotline.reports.models import Item, ItemStatus
from hotline.routing import actions
from hotline.routing.models import Decision, PoliceAnswer, Referral, Route
from hotline.tracing.models import Trace, TraceOutcome
from hotline.tracing.providers import providers_by_id

ILLEGAL = frozenset({"baseline", "national"})
OTHER_HARM = "other_harm"
ROUTED_VERDICTS = ILLEGAL | {OTHER_HARM}


class RoutingError(Exception):
    """A routing action is not allowed in the current state (e.g. an answer on a referral never sent)."""


@dataclass
class Plan:
    """What routing wants for one item; `decide` makes it, `route_item` carries it out."""

    route: str
    inputs: dict[str, Any]
    partner: PartnerHotline | None = None
    police: PoliceContact | None = None
    direct_notice: bool = False
    notice: bool = False
    hold: bool = False
    needs_analyst: bool = False
    reasons: list[str] = field(default_factory=list)

    def same_as(self, decision: Decision) -> bool:
        """Nothing that matters changed: same route, partner, police, country, provider and abuse contact."""
        facts = ("country", "provider_id", "abuse_contact_id")
        return (decision.route, decision.partner_id, decision.police_id, decision.direct_notice,
                *(decision.inputs.get(f) for f in facts)) == (
            self.route, self.partner.pk if self.partner else None, self.police.pk if self.police else None,
            self.direct_notice, *(self.inputs.get(f) for f in facts))


def home_country() -> str:
    return str(settings.HOTLINE_HOME_COUNTRY).upper()


def police_contact(kind: str) -> PoliceContact | None:
    """The active police contact of a kind, preferring one for the home country (each read compiled once per
    process: every routing batch asks)."""
    found: list[PoliceContact] = (prepared.objects("routing.home_police", _home_police, kind=kind, home=home_country())
                                   or prepared.objects("routing.any_police", _any_police, kind=kind))
    return found[0] if found else None


def _home_police(kind: str, home: str) -> Any:
    return PoliceContact.objects.filter(active=True, kind=kind, country=home).order_by("pk")[:1]


def _any_police(kind: str) -> Any:
    return PoliceContact.objects.filter(active=True, kind=kind).order_by("pk")[:1]


class Directory:
    """The police contacts and partner hotlines that routing looks up, each read once per batch of items."""

    def __init__(self) -> None:
        self._police: dict[str, PoliceContact | None] = {}
        self._partners: dict[str, PartnerHotline | None] = {}

    def police(self, kind: str) -> PoliceContact | None:
        if kind not in self._police:
            self._police[kind] = police_contact(kind)
        return self._police[kind]

    def partner(self, country: str) -> PartnerHotline | None:
        if country not in self._partners:
            self._partners[country] = PartnerHotline.objects.serving(country)
        return self._partners[country]


def _inputs(item: Item, trace: Trace | None) -> dict[str, Any]:
    return {
        "verdict": item.verdict, "home_country": home_country(),
        "trace_id": trace.pk if trace else None,
        "trace_outcome": trace.outcome if trace else None,
        "country": trace.country if trace else "",
        "country_signals": trace.country_signals if trace else {},
        "country_disputed": bool(trace and trace.country_disputed),
        "provider": trace.provider.name if trace and trace.provider else None,
        "provider_id": trace.provider_id if trace else None,
        "cdn": trace.cdn.name if trace and trace.cdn else None,
        "abuse_contact_id": trace.abuse_contact_id if trace else None,
    }


def decide(item: Item, trace: Trace | None, directory: Directory | None = None) -> Plan:
    """The routing rules, as a pure function of the item's verdict, its trace and the directory."""
    directory = directory or Directory()
    plan = Plan(route=Route.NONE, inputs=_inputs(item, trace))
    if item.verdict == OTHER_HARM:
        return _other_harm(plan, directory)
    if item.verdict not in ILLEGAL:
        plan.reasons.append("verdict is not illegal")
        return plan
    if trace is None or trace.outcome != TraceOutcome.OK or not trace.country:
        plan.route, plan.needs_analyst = Route.UNKNOWN_LOCATION, True
        plan.reasons.append("hosting location unknown")
        return plan
    plan.needs_analyst = trace.country_disputed
    if trace.country == home_country():
        return _domestic(plan, directory)
    return _abroad(plan, trace.country, directory)


def _domestic(plan: Plan, directory: Directory) -> Plan:
    plan.route, plan.notice, plan.hold = Route.DOMESTIC, True, True
    plan.police = directory.police(PoliceContact.Kind.NATIONAL)
    if plan.police is None:
        plan.needs_analyst = True
        plan.reasons.append("no national police contact in the directory")
    return plan


def _abroad(plan: Plan, country: str, directory: Directory) -> Plan:
    plan.partner = directory.partner(country)
    if plan.partner is not None:
        plan.route = Route.PARTNER
        return plan
    plan.route = Route.INTERNATIONAL_POLICE
    plan.police = directory.police(PoliceContact.Kind.INTERNATIONAL)
    plan.direct_notice = plan.notice = bool(settings.HOTLINE_DIRECT_NOTICE_ABROAD)
    if plan.police is None:
        plan.needs_analyst = True
        plan.reasons.append("no international police channel in the directory")
    return plan


def _other_harm(plan: Plan, directory: Directory) -> Plan:
    plan.route = Route.OTHER_HARM
    mode = settings.HOTLINE_OTHER_HARM_ROUTE
    if mode in ("police", "police_and_notice"):
        plan.police = directory.police(PoliceContact.Kind.NATIONAL)
    plan.notice = mode in ("notice", "police_and_notice")
    return plan


@transaction.atomic
def route_item(item: Item, *, trace: Trace | None, now: datetime, actor: Actor = SYSTEM) -> Decision:
    """Decide (again) for `item` from `trace`; keep the current decision when nothing that matters changed.

    A changed route, partner, police contact or country supersedes the current decision (history kept) and
    starts the new route's actions: a forward to the partner hotline, a police referral with its hold.
    """
    locked = Item.objects.select_for_update().get(pk=item.pk)
    return route_items([(locked, trace)], now=now, actor=actor)[0]


def route_items(pairs: list[tuple[Item, Trace | None]], *, now: datetime, actor: Actor = SYSTEM) -> list[Decision]:
    """``route_item`` for a batch of locked items, each with its trace: the current decisions and the directory
    read once, decisions, referrals and audit events written set-wise. Returns each item's decision, in order.
    Must run inside the caller's transaction (which holds the items' locks)."""
    directory = Directory()
    currents = {d.item_id: d for d in prepared.objects(
        "routing.current_decisions", lambda ids: Decision.objects.current().filter(item_id__in=ids),
        ids=prepared.padded([item.pk for item, _ in pairs]))} if pairs else {}
    kept: list[tuple[Decision, Trace | None]] = []
    changed: list[tuple[Item, Trace | None, Plan, Decision | None]] = []
    for item, trace in pairs:
        plan, current = decide(item, trace, directory), currents.get(item.pk)
        if current is not None and plan.same_as(current):
            kept.append((current, trace))
        else:
            changed.append((item, trace, plan, current))
    _retarget(kept)
    superseded = [current for *_, current in changed if current is not None]
    for current in superseded:
        current.superseded_at = now
    if superseded:
        Decision.objects.bulk_update(superseded, ["superseded_at"])
    made = [_new(item, plan, trace, current, now=now) for item, trace, plan, current in changed]
    prepared.insert(made)  # ``bulk_create``, its INSERT kept per process and number of rows
    started = [(item, decision, plan, trace) for (item, trace, plan, _), decision in zip(changed, made, strict=True)]
    record_many(actor, [_decided(item, decision, plan, current)
                        for (item, _, plan, current), decision in zip(changed, made, strict=True)], now=now)
    _start_actions(started, actor=actor, now=now)
    decisions = {current.item_id: current for current, _ in kept} | {decision.item_id: decision for decision in made}
    return [decisions[item.pk] for item, _ in pairs]


def _retarget(kept: list[tuple[Decision, Trace | None]]) -> None:
    """A decision that stands follows the newest trace it was confirmed by (one UPDATE, compiled once per process
    for each number of decisions: a notice's re-trace makes a new trace, which each of its items comes back for)."""
    moved: list[tuple[int, int]] = []
    for current, trace in kept:
        if trace is not None and current.trace_id != trace.pk:
            current.trace = trace
            moved.append((current.pk, trace.pk))
    if moved:
        prepared.update("routing.retarget", _retargeted, decisions=[d for d, _ in moved], traces=[t for _, t in moved])


def _retargeted(decisions: list[int], traces: list[int]) -> tuple[QuerySet[Decision], dict[str, Any]]:
    """``_retarget``'s UPDATE (what ``bulk_update(moved, ["trace"])`` wrote)."""
    field = Decision._meta.get_field("trace")
    return Decision.objects.filter(pk__in=decisions), {"trace": Case(
        *[When(pk=decision, then=Value(trace, output_field=field)) for decision, trace in zip(
            decisions, traces, strict=True)], output_field=field)}


def _decided(item: Item, decision: Decision, plan: Plan, current: Decision | None) -> Change:
    return Change(actions.DECIDED, item, after={
        "route": decision.route, "decision": decision.pk, "inputs": plan.inputs, "reasons": plan.reasons,
        "previous": current.route if current else None, "partner": plan.partner.code if plan.partner else None,
        "police": plan.police.pk if plan.police else None, "hold_until": _iso(decision.hold_until),
        "notice_due_at": _iso(decision.notice_due_at), "needs_analyst": decision.needs_analyst})


def _new(item: Item, plan: Plan, trace: Trace | None, previous: Decision | None, *, now: datetime) -> Decision:
    hold_until = _new_hold(plan, previous, now=now)
    notice_due = (hold_until or now) if plan.notice else None
    return Decision(
        item=item, trace=trace, decided_at=now, route=plan.route, inputs={**plan.inputs, "reasons": plan.reasons},
        partner=plan.partner, police=plan.police, direct_notice=plan.direct_notice, hold_until=hold_until,
        notice_due_at=notice_due, needs_analyst=plan.needs_analyst)


def _new_hold(plan: Plan, previous: Decision | None, *, now: datetime) -> datetime | None:
    """The hold of a decision (and of the referral it starts): it never ends before that referral exists.

    A re-route on the same route (a site that moved to another provider at home) keeps a hold that still
    runs; a hold that is over (released by the police, or expired) is not carried into the new referral,
    which would then show a hold ending before it was created: the police had their hold on this content
    and the notice to the new provider is due at once. Anything else starts a fresh hold.
    """
    if not plan.hold or plan.police is None:
        return None
    if previous is not None and previous.route == plan.route and previous.hold_until is not None:
        return previous.hold_until if previous.hold_until > now else None
    hours = settings.HOTLINE_POLICE_HOLD_HOURS
    return now + timedelta(hours=hours) if hours > 0 else None  # 0 hours: no hold, the notice is due at once


def _start_actions(started: list[tuple[Item, Decision, Plan, Trace | None]], *, actor: Actor, now: datetime) -> None:
    for item, decision, plan, trace in started:
        if plan.partner is not None:
            _forward(item, decision, plan.partner, trace, actor=actor, now=now)
    _refer_each([(item, decision) for item, decision, plan, _ in started if plan.police is not None],
                actor=actor, now=now)


def _forward(item: Item, decision: Decision, partner: PartnerHotline, trace: Trace | None, *, actor: Actor,
             now: datetime) -> None:
    from hotline.partners.services import ExchangeError, forward_item

    try:
        with transaction.atomic():
            forward_item(item, partner, trace=trace, actor=actor, now=now)
    except ExchangeError as exc:
        decision.needs_analyst = True
        decision.inputs = {**decision.inputs, "reasons": [*decision.inputs.get("reasons", []), str(exc)]}
        decision.save(update_fields=["needs_analyst", "inputs"])


@transaction.atomic
def mark_notice_taken(decision: Decision, *, now: datetime) -> None:
    """Takedown has created the notice for this decision: it must not be offered again."""
    taken = Decision.objects.filter(pk=decision.pk, notice_due_at__isnull=False).update(
        notice_due_at=None, inputs={**decision.inputs, "notice_taken_at": now.isoformat()})
    if taken != 1:
        raise RoutingError(f"decision {decision.pk} has no notice due")
    decision.notice_due_at = None


def mark_notices_taken(decisions: list[Decision], *, now: datetime) -> None:
    """``mark_notice_taken`` for a batch of decisions the caller has locked with their notices due: one UPDATE,
    compiled once per process (per power of two of the decisions), that adds ``notice_taken_at`` to each one's
    inputs in the database (the same value as ``{**inputs, "notice_taken_at": …}`` written back: the rows are
    locked, their inputs as read)."""
    for decision in decisions:
        if decision.notice_due_at is None:
            raise RoutingError(f"decision {decision.pk} has no notice due")
        decision.notice_due_at, decision.inputs = None, {**decision.inputs, "notice_taken_at": now.isoformat()}
    if not decisions:
        return
    if connection.vendor not in ("postgresql", "sqlite"):
        Decision.objects.bulk_update(decisions, ["notice_due_at", "inputs"])
        return
    prepared.update("routing.notices_taken", _notices_taken, decisions=prepared.padded([d.pk for d in decisions]),
                    taken_at=now.isoformat())


def _notices_taken(*, decisions: list[int], taken_at: str) -> tuple[QuerySet[Decision], dict[str, Any]]:
    return Decision.objects.filter(pk__in=decisions), {"notice_due_at": None,
                                                       "inputs": _WithKey("inputs", "notice_taken_at", taken_at)}


class _WithKey(Func):
    """A JSON object column with one key set to a string (added, or replaced where it is): PostgreSQL's ``jsonb``
    ``||``, SQLite's ``json_set``."""

    output_field = JSONField()

    def __init__(self, column: str, key: str, value: str) -> None:
        super().__init__(F(column), Value(key, output_field=TextField()), Value(value, output_field=TextField()))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(column)s || jsonb_build_object(%(key)s::text, "
                           "%(value)s::text))", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="json_set(%(column)s, '$.' || %(key)s, %(value)s)",
                           **extra)

    def as_sql(self, compiler: Any, connection: Any, function: Any = None, template: Any = None,
               arg_joiner: Any = None, **extra: Any) -> Any:
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, found = compiler.compile(expression)
            parts.append(sql)
            params += found
        column, key, value = parts
        return (template or "").replace("%(column)s", column).replace("%(key)s", key).replace("%(value)s", value), \
            params


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- what is due (routing_step) --------------------------------------------------------------------


def _latest_trace_ids() -> Any:
    return Trace.objects.filter(item=OuterRef("pk")).order_by("-traced_at", "-pk").values("pk")[:1]


def items_to_route() -> Any:
    """Assessed items with a routed verdict whose newest trace has no current decision made from it yet."""
    latest = _latest_trace_ids()
    decided = Decision.objects.current().filter(item=OuterRef("pk"), trace_id=OuterRef("latest_trace"))
    return (Item.objects.filter(status=ItemStatus.ASSESSED, verdict__in=ROUTED_VERDICTS)
            .annotate(latest_trace=Subquery(latest)).filter(latest_trace__isnull=False)
            .filter(~Exists(decided)).order_by("-priority", "pk"))


def route_due(*, now: datetime | None = None, batch: int = 50) -> bool:
    """Route up to ``batch`` items whose newest trace has not been decided on (``routing_step``), in one
    transaction: the items locked (skipped when another worker holds them), their traces read at once.
    Returns whether it found work. Without ``now`` the batch is decided at the clock's time."""
    if not prepared.any_row("routing.items_to_route", items_to_route):  # compiled once: the idle call's one query
        return False
    due = dict(prepared.rows("routing.due", lambda: items_to_route().values_list("pk", "latest_trace")[:batch],
                             vary=batch))
    if not due:
        return False
    now = now or timezone.now()
    try:
        _route_batch(due, now=now)
    except IntegrityError:  # another worker decided an item at the same moment: one at a time, its decision stands
        for item_id, trace_id in due.items():
            try:
                _route_batch({item_id: trace_id}, now=now)
            except IntegrityError:
                continue
    return True


def _route_batch(due: dict[int, int], *, now: datetime) -> None:
    """Route a batch (item -> its newest trace) in one transaction, the items locked (skipped when another worker
    holds them); its reads compiled once per process (``prepared``), the traces' providers and CDNs read in one
    more query (as ``select_related`` would give them)."""
    with transaction.atomic():
        items: list[Item] = prepared.objects("routing.lock_items", lambda ids: claim.skip_locked(
            Item.objects.filter(pk__in=ids)).order_by("-priority", "pk"), ids=prepared.padded(list(due)))
        found: list[Trace] = prepared.objects("routing.traces", lambda ids: Trace.objects.filter(pk__in=ids),
                                              ids=prepared.padded(list(due.values())))
        providers = providers_by_id([t.provider_id for t in found] + [t.cdn_id for t in found])
        for trace in found:
            trace.provider = providers.get(trace.provider_id) if trace.provider_id else None
            trace.cdn = providers.get(trace.cdn_id) if trace.cdn_id else None
        traces = {trace.pk: trace for trace in found}
        route_items([(item, traces[due[item.pk]]) for item in items if due[item.pk] in traces], now=now)


# --- police referrals -------------------------------------------------------------------------------


@transaction.atomic
def refer_items(items: list[Item], police: PoliceContact, *, actor: Actor, now: datetime,
                hold_until: datetime | None = None) -> Referral:
    """Queue a police referral for one item or a group (delivered by `referral_step` after commit)."""
    if not items:
        raise RoutingError("a referral needs at least one item")
    if hold_until is not None and hold_until <= now:
        raise RoutingError("hold_until: a referral's hold must end after the referral is made")
    referral = Referral.objects.create(
        key=uuid.uuid4(), police=police, created_at=now, next_attempt_at=now, hold_until=hold_until)
    referral.items.set(items)
    record_many(actor, [_queued(referral, item) for item in items], now=now)
    return referral


def _refer_each(started: list[tuple[Item, Decision]], *, actor: Actor, now: datetime) -> None:
    """One police referral per item, with its decision's hold (as ``refer_items`` for each), written set-wise."""
    if not started:
        return
    # ``bulk_create`` of the referrals and their item rows, each INSERT kept per process and number of rows
    referrals = [Referral(key=uuid.uuid4(), police=decision.police, created_at=now, next_attempt_at=now,
                          hold_until=decision.hold_until) for _, decision in started]
    prepared.insert(referrals)
    prepared.insert([Referral.items.through(referral_id=referral.pk, item_id=item.pk)
                     for referral, (item, _) in zip(referrals, started, strict=True)])
    record_many(actor, [_queued(referral, item) for referral, (item, _) in zip(referrals, started, strict=True)],
                now=now)


def _queued(referral: Referral, item: Item) -> Change:
    return Change(actions.REFERRAL_QUEUED, item, after={
        "referral": str(referral.key), "police": referral.police_id, "hold_until": _iso(referral.hold_until)})


@transaction.atomic
def record_police_answer(referral: Referral, answer: str, *, actor: Actor, now: datetime,
                         hold_until: datetime | None = None, note: str = "") -> Referral:
    """The police liaison records the police's answer; it drives the evidence-preservation hold.

    hold → the hold runs until `hold_until` (required, in the future); release / not pursued → the hold
    ends now and the provider may be notified; accepted → the hold stays as it is.
    """
    locked = Referral.objects.select_for_update().get(pk=referral.pk)
    if answer not in PoliceAnswer.values or answer == PoliceAnswer.NONE:
        raise RoutingError(f"answer: unknown value {answer!r}")
    # A hold never ends before its referral exists, even for a caller whose clock reads earlier than the one
    # that made the referral (the simulation answers at the start of its hour, after referrals made within it).
    ends = max(now, locked.created_at)
    if answer == PoliceAnswer.HOLD and (hold_until is None or hold_until <= ends):
        raise RoutingError("hold_until: a hold needs an end in the future")
    before = {"answer": locked.answer, "hold_until": _iso(locked.hold_until)}
    old_hold = locked.hold_until
    new_hold = {PoliceAnswer.HOLD: hold_until, PoliceAnswer.RELEASE: ends,
                PoliceAnswer.NOT_PURSUED: ends}.get(PoliceAnswer(answer), locked.hold_until)
    locked.answer, locked.answered_at, locked.answer_note, locked.hold_until = answer, now, note, new_hold
    locked.save(update_fields=["answer", "answered_at", "answer_note", "hold_until"])
    if new_hold != old_hold:
        _move_hold(locked, new_hold, now=now)
    record(actor, actions.POLICE_ANSWER, locked, now=now, before=before,
           after={"answer": answer, "hold_until": _iso(new_hold), "note": note})
    return locked


def _move_hold(referral: Referral, hold_until: datetime | None, *, now: datetime) -> None:
    """Every current decision of the referral's items that still waits for its notice follows the hold."""
    waiting = Decision.objects.current().filter(item__in=referral.items.all(), hold_until__isnull=False)
    for decision in waiting:
        decision.hold_until = hold_until
        fields = ["hold_until"]
        if decision.notice_due_at is not None:
            decision.notice_due_at = max(hold_until, now) if hold_until else now
            fields.append("notice_due_at")
        decision.save(update_fields=fields)


def open_decisions_needing_analyst() -> Any:
    return Decision.objects.current().filter(needs_analyst=True).select_related("item").order_by("decided_at")
