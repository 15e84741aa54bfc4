"""Worker steps make a bounded number of queries: one run over 2N due rows makes no more queries than one
over N (issue 21, goal 3). A query per row (an N+1 lookup, a save or an audit event per row) fails here.

Steps are found through ``settings.HOTLINE_WORKER_STEPS`` by their function name, never by module path, so
the test follows a step that moves to another module. Each covered step has a set-up that makes ``n`` rows
due; a warm-up run first pays the one-time costs (the audit heads, the content types, caches). For an outbox
step that sends one message per claimed row (a notice), the rows are the items in the message.

A step marked ``xfail(strict=True)`` still makes per-row queries: the reason says how many. Once fixed, the
strict mark fails the test, so the mark is removed with the fix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string

from hotline.accounts.models import User
from hotline.reports.models import Item, ItemStatus
from hotline.tracing.models import AbuseContact, Provider, Trace, TraceOutcome

SIZES = (1, 3, 6)  # warm-up, N, 2N (under every step's per-run limit)

# Steps without a set-up here yet, and why. A new step in HOTLINE_WORKER_STEPS must be added to one or the other.
NOT_COVERED = {
    "capture_step": "needs the simulated web (covered by bench/cost_per_report.py and bench/capture_throughput.py)",
    "screenshot_step": "needs a browser",
    "match_step": "per capture by design: each in its own transaction (a crash loses one match, not the batch's); "
                  "test_match_step_makes_a_fixed_number_of_queries_per_capture caps it",
    "scan_step": "needs self-referral uploads",
    "trace_step": "needs simulated DNS and RDAP",
    "liveness_step": "needs the simulated web",
    "bounce_step": "needs a mailbox",
    "inforequest_step": "needs a mailbox",
    "mail_step": "needs a mailbox",
    "verdict_status_step": "needs a partner hotline on loopback",
    "exchange_step": "needs a partner hotline on loopback",
    "pull_step": "needs the simulated ICCAM",
    "push_step": "needs the simulated ICCAM; iccam/tests/test_push.py: idle, three SELECTs and no transaction; "
                 "queueing N or 2N writes, the same queries; sending, seven per write (each claimed alone)",
    "retention_step": "one batch per retention class; covered by bench/retention_purge.py",
    "tasks_step": "runs one queued task per call",
    "ratelimit_purge_step": "one DELETE by construction",
    "seal_step": "seals the stream heads, not rows",
}


def per_row(reason: str) -> pytest.MarkDecorator:
    """A step that still makes queries per row: its test fails (strictly: a fix must remove the mark)."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


def step(name: str) -> Callable[..., Any]:
    paths = [p for p in settings.HOTLINE_WORKER_STEPS if p.rsplit(".", 1)[1] == name]
    assert len(paths) == 1, f"{name} is not in settings.HOTLINE_WORKER_STEPS once: {paths}"
    return import_string(paths[0])  # type: ignore[no-any-return]


def query_counts(name: str, make_due: Callable[[int], None], *, says_found: bool = True,
                 **kwargs: Any) -> tuple[int, int, str]:
    """Queries of one run of the step after ``make_due(n)`` for each of SIZES, warm-up left out; and the
    query shapes the larger run made more often, to say which lookup is per row. ``says_found``: the step's
    answer says whether it found work, and must (a set-up that makes nothing due would prove nothing)."""
    counts, shapes = [], []
    for n in SIZES:
        make_due(n)
        with CaptureQueriesContext(connection) as context:
            found = step(name)(**kwargs)
        assert found or not says_found, f"{name} found nothing due after the set-up of {n} rows"
        counts.append(len(context.captured_queries))
        shapes.append(Counter(_shape(q["sql"]) for q in context.captured_queries))
    grown = shapes[2] - shapes[1]
    return counts[1], counts[2], "\n".join(f"{n}x {sql}" for sql, n in grown.most_common(8))


def _shape(sql: str) -> str:
    """The query without its values (and savepoint names), so the same lookup for another row compares equal."""
    return re.sub(r"'[^']*'|\b\d+\b|\"s\d+_x\d+\"", "?", sql)[:160]


def assert_bounded(name: str, make_due: Callable[[int], None], *, says_found: bool = True,
                   at_most: int | None = None, **kwargs: Any) -> None:
    """The step makes no more queries for more rows; with ``at_most``, no more than that many either."""
    small, large, grown = query_counts(name, make_due, says_found=says_found, **kwargs)
    assert large <= small, (f"{name}: {small} queries for {SIZES[1]} rows, {large} for {SIZES[2]}; "
                            f"more often with more rows:\n{grown}")
    assert at_most is None or small <= at_most, f"{name}: {small} queries, more than {at_most}"


def test_it_covers_every_configured_step_or_says_why_not() -> None:
    names = {p.rsplit(".", 1)[1] for p in settings.HOTLINE_WORKER_STEPS}
    covered = {name.removeprefix("test_it_bounds_") for name in globals() if name.startswith("test_it_bounds_")}
    assert names - covered - set(NOT_COVERED) == set()


# Polled steps with nothing to do: each asks whether anything is due with SQL compiled once per process
# (``hotline.lib.prepared``), so an idle call builds no query and opens no transaction. Their queries, once warm.
IDLE_QUERIES = {
    "capture_step": 1, "match_step": 1, "inherit_known_step": 1, "trace_step": 2, "routing_step": 1,
    "referral_step": 1, "exchange_step": 1, "notice_step": 1, "liveness_step": 1, "escalation_step": 1,
}


@pytest.mark.parametrize("name", sorted(IDLE_QUERIES))
def test_an_idle_step_asks_once_and_opens_no_transaction(name: str, db: None, settings: Any) -> None:
    settings.HOTLINE_AUTO_ASSESS_KNOWN = True
    assert not step(name)()  # warm-up: compiles the probes
    with CaptureQueriesContext(connection) as context:
        assert not step(name)()
    statements = [q["sql"] for q in context.captured_queries]
    assert len(statements) == IDLE_QUERIES[name], statements
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in statements), statements  # no savepoint


# ------------------------------------------------------------------ set-ups


def _items(make_item: Callable[..., Item], n: int, *, status: str = ItemStatus.ASSESSED,
           verdict: str = "baseline") -> list[Item]:
    items = []
    for _ in range(n):
        item = make_item()
        fields = item.transition(status, now=timezone.now()) if item.status != status else []
        item.verdict = verdict
        item.save(update_fields=[*fields, "verdict"])
        items.append(item)
    return items


def _trace(item: Item, contact: AbuseContact | None, country: str = "BE") -> Trace:
    return Trace.objects.create(
        item=item, traced_at=timezone.now(), host=item.host, outcome=TraceOutcome.OK, addresses=[{"ip": "192.0.2.7"}],
        country=country, country_signals={"iptocc": country}, provider=contact.provider if contact else None,
        abuse_contact=contact)


@pytest.fixture
def contact(db: None) -> AbuseContact:
    provider = Provider.objects.create(name="Host BV", country="BE")
    return AbuseContact.objects.create(provider=provider, name="Host BV abuse desk", email="abuse@host.example",
                                       channel="email", language="en", repeat_hours=24)


# ------------------------------------------------------------------ the steps


def test_it_bounds_expire_claims_step(make_item: Callable[..., Item], analyst: User) -> None:
    def make_due(n: int) -> None:
        items = _items(make_item, n, status=ItemStatus.CAPTURED, verdict="")
        Item.objects.filter(pk__in=[i.pk for i in items]).update(
            claimed_by=analyst, claim_expires_at=timezone.now() - timedelta(minutes=1))

    assert_bounded("expire_claims_step", make_due)


def test_it_bounds_inherit_known_step(make_item: Callable[..., Item], make_media: Callable[..., Any],
                                      settings: Any) -> None:
    from hotline.evidence.models import Capture

    settings.HOTLINE_AUTO_ASSESS_KNOWN = True

    def make_due(n: int) -> None:
        for item in _items(make_item, n, status=ItemStatus.CAPTURED, verdict=""):
            media = make_media(item)
            media.inherited_verdict, media.inherited_from = "baseline", "test bank"
            media.save(update_fields=["inherited_verdict", "inherited_from"])
            Capture.objects.filter(item=item).update(known_verdict="baseline", matched_at=timezone.now())

    assert_bounded("inherit_known_step", make_due)


# Was 19: the capture read alone after its claim, one exact look-up per signal type; SQLite 15 since its audit append
# reads the stream head and the largest event id in one statement; PostgreSQL 14 since its audit append is two
# statements (the head locked with the ids taken, the events inserted with the head moved), SQLite's three.
MATCH_QUERIES_PER_CAPTURE = {"sqlite": 15, "postgresql": 14}


def test_match_step_makes_a_fixed_number_of_queries_per_capture(make_item: Callable[..., Item],
                                                                make_media: Callable[..., Any]) -> None:
    """N captures of one file each (SHA-256, MD5 and SHA-1), every file an exact hit in a trusted bank; counted
    inside the test's transaction (each capture's transaction is a savepoint here). Per capture by design (see
    ``NOT_COVERED``): the queries each more capture adds are capped here."""
    from hotline.hashes.models import Bank, Entry
    from hotline.hashes.services import bump_version

    bank = Bank.objects.create(name="Partner list", kind="partner", trusted=True)

    def make_due(n: int) -> None:
        for item in _items(make_item, n, status=ItemStatus.CAPTURED, verdict=""):
            media = make_media(item, seed=item.pk)
            media.md5, media.sha1 = media.sha256[:32], media.sha256[:40]  # three exact signals, as a capture has
            media.save(update_fields=["md5", "sha1"])
            Entry.objects.create(bank=bank, signal_type="sha256", value=media.sha256, verdict="baseline",
                                 classification="1", scheme="vics-us", added_at=timezone.now())
        bump_version()

    small, large, grown = query_counts("match_step", make_due)
    per_capture = (large - small) / (SIZES[2] - SIZES[1])
    assert per_capture == MATCH_QUERIES_PER_CAPTURE[connection.vendor], (small, large, grown)


# A capture whose files match nothing (most of them): no match row, no file or capture written but by the claim.
MATCH_QUERIES_PER_CAPTURE_WITHOUT_HITS = {"sqlite": 9, "postgresql": 8}


def test_match_step_without_hits_makes_fewer_queries_per_capture(make_item: Callable[..., Item],
                                                                 make_media: Callable[..., Any]) -> None:
    """N captures of one file each (SHA-256, MD5 and SHA-1), none known: per capture its claim, its files, one
    exact look-up, the same-file read and the audit append (and the savepoints of its transaction)."""
    def make_due(n: int) -> None:
        for item in _items(make_item, n, status=ItemStatus.CAPTURED, verdict=""):
            media = make_media(item, seed=item.pk)
            media.md5, media.sha1 = media.sha256[:32], media.sha256[:40]
            media.save(update_fields=["md5", "sha1"])

    small, large, grown = query_counts("match_step", make_due)
    per_capture = (large - small) / (SIZES[2] - SIZES[1])
    assert per_capture == MATCH_QUERIES_PER_CAPTURE_WITHOUT_HITS[connection.vendor], (small, large, grown)


def test_it_bounds_routing_step(make_item: Callable[..., Item], contact: AbuseContact) -> None:
    """Domestic items with a national police contact: a decision, a referral with its hold and their events each."""
    from hotline.partners.models import PoliceContact

    PoliceContact.objects.create(name="Federal police", country="BE", kind=PoliceContact.Kind.NATIONAL,
                                 email="police@police.example")

    def make_due(n: int) -> None:
        for item in _items(make_item, n):
            _trace(item, contact)

    assert_bounded("routing_step", make_due)


def test_it_bounds_referral_step(make_item: Callable[..., Item], make_media: Callable[..., Any],
                                 contact: AbuseContact, settings: Any, tmp_path: Any) -> None:
    """One referral of N items, then one of 2N: its summary, its evidence package and its "sent" events are
    read and written for all its items at once."""
    from hotline.audit.services import SYSTEM
    from hotline.partners.models import PoliceContact
    from hotline.routing.services import refer_items

    settings.HOTLINE_REFERRAL_DIR = tmp_path / "referrals"
    settings.HOTLINE_POLICE_RECIPIENT_KEY = ""
    police = PoliceContact.objects.create(name="Federal police", country="BE", kind=PoliceContact.Kind.NATIONAL,
                                          email="police@police.example")

    def make_due(n: int) -> None:
        items = _items(make_item, n)
        for seed, item in enumerate(items, start=1):
            _trace(item, contact)
            make_media(item, seed=seed)
        refer_items(items, police, actor=SYSTEM, now=timezone.now())

    assert_bounded("referral_step", make_due, at_most=25)  # 23 on SQLite, 25 on PostgreSQL (25 / 27 before)


def test_it_bounds_notice_step(make_item: Callable[..., Item], contact: AbuseContact, settings: Any) -> None:
    """One notice of N items, then one of 2N: the send, its timings and its audit events are set-wise."""
    from hotline.routing.models import Decision, Route
    from hotline.takedown.models import Notice
    from hotline.takedown.services import take_due_decisions

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    def make_due(n: int) -> None:
        now = timezone.now()
        for item in _items(make_item, n):
            Decision.objects.create(item=item, trace=_trace(item, contact), decided_at=now, route=Route.DOMESTIC,
                                    notice_due_at=now, inputs={"abuse_contact_id": contact.pk})
        take_due_decisions(now=now)
        Notice.objects.filter(sent_at__isnull=True).update(retraced_at=now)  # re-tracing has its own tests

    assert_bounded("notice_step", make_due, limit=1, at_most=18)  # 17 on SQLite, 18 on PostgreSQL (20 / 21 before)


def test_it_bounds_notice_step_taking_decisions(make_item: Callable[..., Item], contact: AbuseContact,
                                               settings: Any) -> None:
    """N due decisions, then 2N: their takedowns opened and their items put into the contact's batch set-wise
    (``limit=0``: nothing is sent, the sending has its own test above)."""
    from hotline.routing.models import Decision, Route

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 60

    def make_due(n: int) -> None:
        now = timezone.now()
        for item in _items(make_item, n):
            Decision.objects.create(item=item, trace=_trace(item, contact), decided_at=now, route=Route.DOMESTIC,
                                    notice_due_at=now, inputs={"abuse_contact_id": contact.pk})

    assert_bounded("notice_step", make_due, limit=0, at_most=15)  # 14 on SQLite, 15 on PostgreSQL (16 / 17 before)


def test_it_bounds_notice_step_queueing_repeats(make_item: Callable[..., Item], contact: AbuseContact,
                                                settings: Any) -> None:
    """N takedowns whose repeat is due, then 2N: into the contact's repeat batch set-wise (nothing sent)."""
    from hotline.takedown.models import Takedown

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 60

    def make_due(n: int) -> None:
        now = timezone.now()
        for item in _items(make_item, n):
            _trace(item, contact)
            Takedown.objects.create(item=item, contact=contact, provider=contact.provider, opened_at=now,
                                    state_changed_at=now, reported_at=now, first_notice_at=now - timedelta(days=1),
                                    last_notice_at=now - timedelta(days=1), next_notice_at=now - timedelta(seconds=1))

    assert_bounded("notice_step", make_due, limit=0, at_most=10)  # 10 on SQLite and PostgreSQL (11 before)


def test_it_bounds_escalation_step(make_item: Callable[..., Item], contact: AbuseContact) -> None:
    """Both rungs of the default ladder due: an escalation notice to the provider's upstream, then the flags."""
    from hotline.takedown.models import EscalationContact, EscalationRole, Takedown

    upstream = AbuseContact.objects.create(provider=contact.provider, name="Transit AS", email="abuse@transit.example",
                                           channel="email", language="en", repeat_hours=24)
    EscalationContact.objects.create(role=EscalationRole.UPSTREAM, provider=contact.provider, contact=upstream)

    def make_due(n: int) -> None:
        now = timezone.now()
        day = timedelta(days=1)
        for item in _items(make_item, n):
            Takedown.objects.create(item=item, contact=contact, provider=contact.provider, opened_at=now,
                                    state_changed_at=now, reported_at=now, first_notice_at=now - 9 * day,
                                    last_notice_at=now - day, next_escalation_at=now - timedelta(seconds=1),
                                    repeats=2)

    assert_bounded("escalation_step", make_due)


def test_it_bounds_refresh_step(make_item: Callable[..., Item], settings: Any) -> None:
    from hotline.stats.models import RefreshState

    settings.HOTLINE_STATS_PAUSE_SECONDS = 0

    def make_due(n: int) -> None:
        _items(make_item, n)
        RefreshState.objects.update(next_run_at=timezone.now() - timedelta(minutes=1))

    assert_bounded("refresh_step", make_due, says_found=False)  # it answers whether a full batch may leave more
