"""One pass of the notice step from the routing decisions to the sent notice (issue 21, goal 3): asked once whether
anything is due, the contacts' policies read with the rows that name the contacts, so the pass makes the same
number of queries for N items as for 2N, and fewer than before ``notice9``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hotline.sim.smtp import SmtpSink
from hotline.takedown.models import ContactPolicy, Notice, NoticeState, Takedown
from hotline.takedown.render import contact_policies
from hotline.takedown.tests.conftest import MakeContact, MakeTraced

# 43 on SQLite, 46 on PostgreSQL; before notice9 48 / 51: three probes where one asks, the due decisions read
# twice (their ids, then the rows), and the policy of the batch's contact read when the batch opened and again
# when it was claimed.
PASS_QUERIES = 46


def _one_pass(make_contact: MakeContact, traced_item: MakeTraced, n: int) -> tuple[int, Notice]:
    """A contact whose policy sends at once (the global batching window is an hour), n items due for it: one
    ``notice_step`` takes the decisions, opens the batch and sends it. Its queries, and the notice."""
    from hotline.takedown.steps import notice_step

    contact = make_contact()
    ContactPolicy.objects.create(contact=contact, batch_minutes=0)
    due = timezone.now() - timedelta(minutes=5)
    for _ in range(n):
        traced_item(contact, due=due)
    with CaptureQueriesContext(connection) as context:
        assert notice_step()
    return len(context.captured_queries), Notice.objects.get(contact=contact)


def test_one_pass_from_decisions_to_the_sent_notice_is_bounded(make_contact: MakeContact, traced_item: MakeTraced,
                                                               smtp: SmtpSink, settings: Any) -> None:
    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 60  # the policy's window (none) decides: the notice leaves at once
    _one_pass(make_contact, traced_item, 1)  # warm-up: the compiled queries
    small, first = _one_pass(make_contact, traced_item, 3)
    large, second = _one_pass(make_contact, traced_item, 6)
    assert [first.state, second.state] == [NoticeState.SENT, NoticeState.SENT]
    assert [first.lines.count(), second.lines.count()] == [3, 6]
    assert large <= small <= PASS_QUERIES, (small, large)
    assert len(smtp.wait_for(3)) == 3


def test_work_due_asks_what_the_three_probes_ask(make_contact: MakeContact, traced_item: MakeTraced,
                                                 settings: Any) -> None:
    """``work_due`` (the step's one probe) answers, for each of the three, what its own probe answers."""
    from hotline.takedown.services.sending import work_due

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 60
    now = timezone.now()
    assert work_due(now) == (False, False, False)
    traced_item(make_contact(), due=now + timedelta(minutes=1))
    assert work_due(now) == (False, False, False)
    assert work_due(now + timedelta(minutes=1)) == (True, False, False)
    from hotline.takedown.services import take_due_decisions

    take_due_decisions(now=now + timedelta(minutes=1))  # a batch open for an hour, nothing else due
    assert work_due(now + timedelta(minutes=2)) == (False, False, False)
    assert work_due(now + timedelta(minutes=61)) == (False, False, True)
    Takedown.objects.update(next_notice_at=now + timedelta(minutes=3))
    assert work_due(now + timedelta(minutes=3)) == (False, True, False)
    assert work_due(now + timedelta(minutes=61)) == (False, True, True)


def test_the_claim_reads_the_contacts_policies_with_them(make_contact: MakeContact, traced_item: MakeTraced,
                                                         settings: Any) -> None:
    """Notices claimed together, one contact with a policy and one without: the policies as ``contact_policies``
    reads them, without a query of their own."""
    from hotline.takedown.services.sending import _policies, claim_notices
    from hotline.takedown.steps import notice_step

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 0
    with_policy, without = make_contact(), make_contact()
    policy = ContactPolicy.objects.create(contact=with_policy, template="custom")
    for contact in (with_policy, without):
        traced_item(contact, due=timezone.now() - timedelta(hours=1))
    notice_step(limit=0)  # the notices queued, none sent
    claimed = claim_notices(timezone.now(), limit=5)
    assert len(claimed) == 2
    with CaptureQueriesContext(connection) as context:
        found = _policies(claimed)
    assert context.captured_queries == []
    assert found == contact_policies(claimed) == {with_policy.pk: policy}
    assert found[with_policy.pk].template == "custom"
