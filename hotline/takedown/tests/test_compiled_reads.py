"""The notice step's reads compiled once per process (``prepared``): the claim of due notices, the open batches of
several (contact, kind, role) at once, the takedowns whose repeat is due. Each must take, find and write exactly
what the ORM-built query it replaces did."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hotline.lib import prepared
from hotline.reports.models import Item
from hotline.takedown import conf
from hotline.takedown.models import Notice, NoticeItem, NoticeKind, NoticeState, Takedown, TakedownState
from hotline.takedown.services import sending
from hotline.takedown.services.notices import add_to_batches
from hotline.takedown.tests.conftest import MakeContact, make_trace_for
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db


def _notice(contact: AbuseContact, state: str, due_in: timedelta, *, attempts: int = 0) -> Notice:
    now = timezone.now()
    return Notice.objects.create(kind=NoticeKind.FIRST, contact=contact, provider=contact.provider, channel="email",
                                 recipient=contact.email, state=state, created_at=now, next_attempt_at=now + due_in,
                                 attempts=attempts)


def _rows() -> list[dict[str, Any]]:
    return [dict(row) for row in Notice.objects.order_by("pk").values()]


def test_the_claim_takes_the_notices_and_writes_what_claim_due_did(make_contact: MakeContact) -> None:
    """Due batches, a retry, a sending notice whose lease ran out, one not due yet and one sent: the compiled read
    and ``claim_rows`` claim the same notices, in the same order, and write the same rows as ``Notice.claim_due``
    with the ORM's read; the notices come with their contacts and providers."""
    contacts = [make_contact() for _ in range(7)]
    for n, contact in enumerate(contacts):
        _notice(contact, NoticeState.BATCHING, timedelta(minutes=-n))
    _notice(contacts[0], NoticeState.QUEUED, timedelta(minutes=-30), attempts=2)
    _notice(contacts[1], NoticeState.SENDING, timedelta(minutes=-1), attempts=1)
    _notice(contacts[2], NoticeState.QUEUED, timedelta(minutes=5))
    _notice(contacts[2], NoticeState.SENT, timedelta(minutes=-60))
    now, lease = timezone.now(), conf.send_lease()
    with transaction.atomic():
        due = Notice.objects.due(now).select_related("contact", "provider").order_by("next_attempt_at", "pk")
        by_orm = [n.pk for n in Notice.claim_due(due, now=now, lease=lease, limit=5, scan=1, of=("self",),
                                                 match=("state", "attempts", "next_attempt_at"))]
        written = _rows()
        transaction.set_rollback(True)
    claimed = sending.claim_notices(now, 5)
    assert [n.pk for n in claimed] == by_orm and len(by_orm) == 5
    assert _rows() == written
    with CaptureQueriesContext(connection) as queries:
        assert all(n.contact.name and n.provider is not None for n in claimed)
    assert not queries.captured_queries
    assert all(n.state == NoticeState.SENDING for n in claimed)


def test_a_notice_another_worker_claimed_after_the_read_is_left(make_contact: MakeContact) -> None:
    """SQLite's conditional UPDATE: a candidate whose attempt count moved since it was read is not claimed
    (PostgreSQL's read locks the candidates: another worker's claim skips them)."""
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL: the read locks the rows (SKIP LOCKED); the conditional UPDATE is SQLite's")
    contact = make_contact()
    first, second = (_notice(contact, NoticeState.QUEUED, timedelta(minutes=-n)) for n in (2, 1))
    now = timezone.now()
    with transaction.atomic():
        read = prepared.instances("takedown.claim_notices", functools.partial(sending._claimable, 5), vary=5,
                                  now=now)
        assert [n.pk for n in read] == [first.pk, second.pk]
        Notice.objects.filter(pk=first.pk).update(attempts=F("attempts") + 1)  # another worker got there first
        claimed = Notice.claim_rows(read, now=now, lease=conf.send_lease(), limit=5,
                                    match=("state", "attempts", "next_attempt_at"))
    assert [n.pk for n in claimed] == [second.pk]
    assert Notice.objects.get(pk=first.pk).state == NoticeState.QUEUED


def _takedown(item: Item, contact: AbuseContact, **fields: Any) -> Takedown:
    now = timezone.now()
    make_trace_for(item, contact)
    return Takedown.objects.create(item=item, contact=contact, provider=contact.provider, opened_at=now,
                                   state_changed_at=now, reported_at=now, **fields)


def test_items_join_the_open_batch_of_their_own_contact_kind_and_role(make_contact: MakeContact,
                                                                      make_item: Callable[..., Item]) -> None:
    """Three groups read their open batches in one query: each item joins the batch of its own contact, kind and
    role (not the contact's batch of another kind, nor another contact's of the same kind); a group with none
    opens a new batch for its contact's provider."""
    one, two, three = make_contact(), make_contact(), make_contact()
    first_of_one = _notice(one, NoticeState.BATCHING, timedelta(hours=1))
    repeat_of_two = _notice(two, NoticeState.BATCHING, timedelta(hours=1))
    Notice.objects.filter(pk=repeat_of_two.pk).update(kind=NoticeKind.REPEAT)
    decoys = [_notice(two, NoticeState.BATCHING, timedelta(hours=1)), _notice(one, NoticeState.QUEUED, timedelta(0))]
    Notice.objects.filter(pk=decoys[1].pk).update(kind=NoticeKind.REPEAT)
    takedowns = [_takedown(make_item(), contact) for contact in (one, two, three)]
    now = timezone.now()
    with transaction.atomic():
        added = add_to_batches([(one, NoticeKind.FIRST, "", [(takedowns[0], None, now)]),
                                (two, NoticeKind.REPEAT, "", [(takedowns[1], None, now)]),
                                (three, NoticeKind.FIRST, "", [(takedowns[2], None, now)])], now=now)
    assert added == 3
    lines = {line.takedown_id: line.notice for line in NoticeItem.objects.select_related("notice")}
    assert lines[takedowns[0].pk].pk == first_of_one.pk
    assert lines[takedowns[1].pk].pk == repeat_of_two.pk
    new = lines[takedowns[2].pk]
    assert new.pk not in {first_of_one.pk, repeat_of_two.pk, *(d.pk for d in decoys)}
    assert (new.contact_id, new.provider_id, new.kind, new.state) == (three.pk, three.provider_id, NoticeKind.FIRST,
                                                                      NoticeState.BATCHING)
    assert not NoticeItem.objects.filter(notice__in=decoys).exists()


def test_due_repeats_are_queued_and_a_pending_removal_asks_again_later(make_contact: MakeContact,
                                                                      make_item: Callable[..., Item]) -> None:
    """Two takedowns whose repeat is due: the one online goes into its contact's repeat batch (its due time
    cleared); the one whose removal is being confirmed is not noticed, and is due again after the miss interval."""
    contact = make_contact()
    now = timezone.now()
    due = {"first_notice_at": now - timedelta(days=1), "next_notice_at": now - timedelta(seconds=1)}
    online = _takedown(make_item(), contact, **due)
    pending = _takedown(make_item(), contact, state=TakedownState.REMOVAL_PENDING, **due)
    later = _takedown(make_item(), contact, first_notice_at=due["first_notice_at"],
                      next_notice_at=now + timedelta(hours=1))
    assert sending.queue_repeats(now=now) == 1
    online.refresh_from_db()
    pending.refresh_from_db()
    later.refresh_from_db()
    assert online.next_notice_at is None
    assert pending.next_notice_at == now + conf.miss_interval() + timedelta(minutes=1)
    assert later.next_notice_at == now + timedelta(hours=1)
    [line] = NoticeItem.objects.select_related("notice")
    assert (line.takedown_id, line.notice.kind, line.notice.contact_id) == (online.pk, NoticeKind.REPEAT, contact.pk)


def test_a_first_notice_tells_the_partner_of_a_forwarded_item_only(make_contact: MakeContact,
                                                                  make_item: Callable[..., Item],
                                                                  settings: Any) -> None:
    """The items a partner forwarded are read at once when the notice is recorded: the partner is told of its
    item, no status is queued for the item nobody forwarded."""
    from hotline.partners.models import OutboundMessage
    from hotline.partners.tests.conftest import forward_body, make_peer, post
    from hotline.routing.models import Decision, Route
    from hotline.takedown.services import send_due, take_due_decisions

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    peer = make_peer()
    assert post(peer.seal(peer.message("forward", forward_body()))).status_code == 200
    contact, now = make_contact(), timezone.now()
    forwarded = Item.objects.get(canonical_url="http://files.hosting.sim.test/a/1.html")
    for item in (forwarded, make_item()):
        Decision.objects.create(item=item, trace=make_trace_for(item, contact), decided_at=now, route=Route.DOMESTIC,
                                notice_due_at=now, inputs={"abuse_contact_id": contact.pk})
    assert take_due_decisions(now=now) == 2
    Notice.objects.update(retraced_at=now)  # the re-trace has its own tests
    assert send_due(now=now) is True
    notice = Notice.objects.get()
    assert notice.state == NoticeState.SENT and notice.lines.count() == 2
    statuses = list(OutboundMessage.objects.filter(kind="status"))
    assert [(m.body["status"], m.body["note"]) for m in statuses] == [("notice_sent", notice.reference)]
    assert statuses[0].body["forward_id"] == str(forwarded.inbound_forwards.get().message_id)


def test_first_notices_claimed_together_read_the_forwarded_items_once(make_contact: MakeContact,
                                                                      make_item: Callable[..., Item],
                                                                      settings: Any) -> None:
    """Two first notices claimed together, a forwarded item in one: which items a partner forwarded is read once
    for both, and the partner is told of its item by that notice alone."""
    from hotline.partners.models import OutboundMessage
    from hotline.partners.tests.conftest import forward_body, make_peer, post
    from hotline.routing.models import Decision, Route
    from hotline.takedown.services import send_due, take_due_decisions

    settings.HOTLINE_TAKEDOWN_BATCH_MINUTES = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    peer = make_peer()
    assert post(peer.seal(peer.message("forward", forward_body()))).status_code == 200
    first, second, now = make_contact(), make_contact(), timezone.now()
    forwarded = Item.objects.get(canonical_url="http://files.hosting.sim.test/a/1.html")
    for item, contact in ((make_item(), second), (forwarded, first), (make_item(), first)):
        Decision.objects.create(item=item, trace=make_trace_for(item, contact), decided_at=now, route=Route.DOMESTIC,
                                notice_due_at=now, inputs={"abuse_contact_id": contact.pk})
    assert take_due_decisions(now=now) == 3
    Notice.objects.update(retraced_at=now)  # the re-trace has its own tests
    with CaptureQueriesContext(connection) as context:
        assert send_due(now=now) is True
    # the read of which items were forwarded (``send_status`` then reads the forward of the one it tells about)
    reads = [q for q in context.captured_queries if '"partners_inboundforward"."item_id" IN' in q["sql"]]
    assert len(reads) == 1
    assert Notice.objects.filter(state=NoticeState.SENT).count() == 2
    notice = Notice.objects.get(contact=first)
    statuses = list(OutboundMessage.objects.filter(kind="status"))
    assert [(m.body["status"], m.body["note"]) for m in statuses] == [("notice_sent", notice.reference)]
    assert statuses[0].body["forward_id"] == str(forwarded.inbound_forwards.get().message_id)
