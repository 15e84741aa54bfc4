"""Two workers opening a contact's batch at the same moment (PostgreSQL: row locks)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from hotline.reports.models import Item
from hotline.takedown.models import Notice, NoticeItem, NoticeKind, NoticeState, Takedown
from hotline.takedown.services import sending
from hotline.takedown.services.notices import _create_batch, _line
from hotline.takedown.tests.conftest import MakeContact, make_trace_for

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")]


def test_a_batch_joined_after_a_lost_race_stays_locked_until_its_lines_are_in(
        make_contact: MakeContact, make_item: Callable[..., Item]) -> None:
    """The worker whose INSERT of a new batch loses (the partial unique index: one open batch per contact, kind
    and role) joins the other worker's batch. It must hold that batch locked until its own lines are committed,
    as it holds the open batches it reads: a sender claiming meanwhile passes it by (SKIP LOCKED). Unlocked, the
    sender claimed it and read its lines in between, and the line added after went out in no message (seen in
    the four-worker scale-out test under load)."""
    contact = make_contact()
    now = timezone.now()
    other = Notice.objects.create(kind=NoticeKind.FIRST, contact=contact, provider=contact.provider,
                                  channel="email", recipient=contact.email, state=NoticeState.BATCHING,
                                  created_at=now, next_attempt_at=now - timedelta(minutes=1))  # due at once
    item = make_item()
    trace = make_trace_for(item, contact)
    takedown = Takedown.objects.create(item=item, contact=contact, provider=contact.provider, opened_at=now,
                                       state_changed_at=now, reported_at=now)
    joined, looked = threading.Event(), threading.Event()
    claimed_meanwhile: list[Notice] = []

    def sender() -> None:
        try:
            joined.wait()
            claimed_meanwhile.extend(sending.claim_notices(timezone.now(), 5))
        finally:
            connection.close()
            looked.set()

    thread = threading.Thread(target=sender)
    thread.start()
    with transaction.atomic():
        notice, fresh = _create_batch(contact, NoticeKind.FIRST, "", takedown, now, now, None)
        assert (notice.pk, fresh) == (other.pk, False)  # the INSERT lost: joined
        joined.set()
        looked.wait()  # the sender tried while this transaction still holds the batch
        NoticeItem.objects.bulk_create([_line(notice, takedown, trace, now)])
    thread.join()
    assert claimed_meanwhile == []
    claimed = sending.claim_notices(timezone.now(), 5)
    assert [n.pk for n in claimed] == [other.pk]
    assert list(NoticeItem.objects.filter(notice=other).values_list("item_id", flat=True)) == [item.pk]
