"""The notice step makes a bounded number of queries with the re-trace included (issue 21, goal 3): sending one
notice of 2N items makes no more queries than one of N, every item re-traced against the loopback DNS and RDAP
(``core/tests/test_step_queries.py`` covers the step with the re-trace left out, and the other steps)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.core.tests.test_step_queries import assert_bounded
from hotline.sim.dns import SimDns
from hotline.sim.smtp import SmtpSink
from hotline.takedown.models import Notice, NoticeItem, NoticeState
from hotline.takedown.tests.conftest import MakeContact, MakeTraced
from hotline.tracing import actions
from hotline.tracing.models import AbuseContact, Provider, ProviderNetwork, Trace
from hotline.tracing.providers import network_row

NETWORK = "91.183.0.0/16"  # the conftest's RDAP network (Belgian)


@pytest.fixture
def directory_contact(db: None) -> AbuseContact:
    """The provider the directory places the RDAP network with, and its one contact: a re-trace finds it again."""
    provider = Provider.objects.create(name="Sim BE Hosting", country="BE")
    ProviderNetwork.objects.bulk_create([network_row(provider, cidr=NETWORK)])
    return AbuseContact.objects.create(provider=provider, name="Sim BE abuse desk", email="abuse@sim-be.example",
                                       channel="email", language="en", repeat_hours=24)


@pytest.fixture
def hosts(offline_tracing: SimDns) -> Iterator[Callable[[int], list[str]]]:
    """Names of this test's own in the shared zone, each at its own address in the network; removed after."""
    made: list[str] = []

    def make(n: int) -> list[str]:
        names = []
        for _ in range(n):
            name = f"notice-queries-{len(made)}.sim.test"
            offline_tracing.set(name, A=[f"91.183.{len(made) // 200}.{len(made) % 200 + 10}"])
            made.append(name)
            names.append(name)
        return names

    yield make
    for name in made:
        offline_tracing.remove(name)


def test_it_bounds_notice_step_with_the_retrace(directory_contact: AbuseContact, traced_item: MakeTraced,
                                                 hosts: Callable[[int], list[str]], smtp: SmtpSink,
                                                 settings: Any) -> None:
    """One notice of N items, then one of 2N, each item re-traced before the send: one DNS resolution per host,
    the RDAP cache, the directory and the previous traces read once, the traces and their events set-wise."""
    from hotline.takedown.services import take_due_decisions

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 0

    def make_due(n: int) -> None:
        now = timezone.now()
        for host in hosts(n):
            traced_item(directory_contact, url=f"http://{host}/page", due=now, ip="91.183.250.1")
        take_due_decisions(now=now)

    assert_bounded("notice_step", make_due, limit=1, at_most=32)  # 32 on SQLite, 30 on PostgreSQL (33 / 31 before)
    notices = list(Notice.objects.order_by("pk"))
    assert [n.state for n in notices] == [NoticeState.SENT] * 3
    assert all(n.retraced_at is not None for n in notices)
    lines = list(NoticeItem.objects.select_related("trace"))
    assert len(lines) == 10 and all(line.dropped_at is None for line in lines)
    # every line carries its re-trace (a new snapshot found the same contact), each audited
    assert all(line.trace is not None and line.trace.abuse_contact_id == directory_contact.pk for line in lines)
    assert Trace.objects.count() == 20
    assert AuditEvent.objects.filter(action=actions.ITEM_TRACED).count() == 10
    assert len(smtp.message_ids()) == 3


def test_it_retraces_a_batch_like_one_trace_each(directory_contact: AbuseContact, traced_item: MakeTraced,
                                                  hosts: Callable[[int], list[str]], offline_tracing: SimDns,
                                                  smtp: SmtpSink) -> None:
    """Two items on one host and one whose host moved into a narrower range another provider holds: each item
    gets its own snapshot (one DNS answer for the shared host), and the moved item leaves the notice."""
    from hotline.takedown.steps import notice_step

    other = Provider.objects.create(name="Narrow Hosting", country="BE")
    ProviderNetwork.objects.bulk_create([network_row(other, cidr="91.183.200.0/24")])
    new_contact = AbuseContact.objects.create(provider=other, email="abuse@narrow.example", channel="email")
    shared, moving = hosts(2)
    now = timezone.now() - timedelta(hours=1)
    items = [traced_item(directory_contact, url=f"http://{shared}/page/{n}", due=now) for n in range(2)]
    moved = traced_item(directory_contact, url=f"http://{moving}/page", due=now)
    offline_tracing.set(moving, A=["91.183.200.5"])
    notice_step()
    notice = Notice.objects.get(contact=directory_contact)
    assert notice.state == NoticeState.SENT
    traces = {t.item_id: t for t in Trace.objects.filter(traced_at__gt=now + timedelta(minutes=1))}
    assert set(traces) == {items[0].pk, items[1].pk, moved.pk}
    assert traces[items[0].pk].pk != traces[items[1].pk].pk
    assert traces[items[0].pk].addresses[0]["ip"] == traces[items[1].pk].addresses[0]["ip"]
    assert traces[items[0].pk].abuse_contact_id == directory_contact.pk
    assert (traces[moved.pk].provider_id, traces[moved.pk].abuse_contact_id) == (other.pk, new_contact.pk)
    kept = notice.lines.filter(dropped_at__isnull=True).values_list("item_id", flat=True)
    assert sorted(kept) == sorted(i.pk for i in items)
    assert notice.lines.get(item=moved).drop_reason.startswith("host moved")
    received = smtp.wait_for(1)
    assert moved.canonical_url not in received[0].text() and items[0].canonical_url in received[0].text()


def test_a_notice_whose_lease_ran_half_out_is_left_and_sent_once(make_contact: MakeContact,
                                                                 traced_item: MakeTraced, smtp: SmtpSink,
                                                                 settings: Any) -> None:
    """Notices claimed together: with a lease of no time at all, every notice after the first is left to its
    lease and claimed again; each is still sent exactly once, under its own Message-ID."""
    from hotline.takedown.render import message_id
    from hotline.takedown.steps import notice_step

    settings.HOTLINE_TAKEDOWN_SEND_LEASE_SECONDS = 0
    for _ in range(3):
        traced_item(make_contact(), due=timezone.now() - timedelta(hours=1))
    notice_step()
    notices = list(Notice.objects.order_by("pk"))
    assert [n.state for n in notices] == [NoticeState.SENT] * 3
    assert sorted(smtp.message_ids()) == sorted(message_id(n) for n in notices)
    assert sorted(n.attempts for n in notices) == [1, 2, 3]  # each round sends one and leaves the rest
    assert AuditEvent.objects.filter(action="takedown.notice_lease_expired").count() == 3


def test_an_unexpected_error_in_one_notice_does_not_hold_back_the_others_claimed_with_it(
        make_contact: MakeContact, traced_item: MakeTraced, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """One claim takes several notices; the first one's rendering breaks (a bug, not a channel error): it is pushed
    back for a retry, the other two are sent in the same step, and the error still reaches the worker."""
    from hotline.takedown.render import message_id, render_notice
    from hotline.takedown.services import sending
    from hotline.takedown.steps import notice_step

    for _ in range(3):
        traced_item(make_contact(), due=timezone.now() - timedelta(hours=1))
    notice_step(limit=0)  # the decisions taken: three notices due, nothing sent yet
    broken = Notice.objects.order_by("next_attempt_at", "pk").first()
    assert broken is not None
    render = render_notice

    def render_or_break(notice: Notice, *args: Any, **kwargs: Any) -> Any:
        if notice.pk == broken.pk:
            raise RuntimeError("template bug")
        return render(notice, *args, **kwargs)

    monkeypatch.setattr(sending, "render_notice", render_or_break)
    with pytest.raises(RuntimeError, match="template bug"):
        sending.send_due()
    notices = {n.pk: n for n in Notice.objects.all()}
    assert [n.state for pk, n in sorted(notices.items()) if pk != broken.pk] == [NoticeState.SENT] * 2
    assert notices[broken.pk].state != NoticeState.SENT and "template bug" in notices[broken.pk].last_error
    assert sorted(smtp.message_ids()) == sorted(message_id(n) for pk, n in notices.items() if pk != broken.pk)


def test_claimed_notices_come_back_as_the_claim_wrote_them(make_contact: MakeContact, traced_item: MakeTraced,
                                                          settings: Any) -> None:
    """The claim sets on the rows it returns what its UPDATE wrote (``OutboxRow.as_claimed``), instead of reading
    them back: the same state, attempts and lease as the database holds."""
    from hotline.takedown.services.sending import claim_notices
    from hotline.takedown.steps import notice_step

    settings.HOTLINE_TAKEDOWN_SEND_LEASE_SECONDS = 90
    for _ in range(2):
        traced_item(make_contact(), due=timezone.now() - timedelta(hours=1))
    notice_step(limit=0)  # the notices queued, none sent
    now = timezone.now()
    claimed = claim_notices(now, limit=5)
    assert len(claimed) == 2
    for notice in claimed:
        stored = Notice.objects.get(pk=notice.pk)
        expected = (NoticeState.SENDING, 1, now + timedelta(seconds=90))
        assert (notice.state, notice.attempts, notice.next_attempt_at) == expected
        assert (stored.state, stored.attempts, stored.next_attempt_at) == expected
