"""Police referrals on the outbox, with real worker processes against PostgreSQL and a real SMTP server on
loopback: a worker SIGKILLed in the middle of a send is replaced by one that sends the same referral (same
Message-ID), and four workers in parallel never send a referral twice."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.routing.models import Referral, ReferralStatus
from hotline.routing.services import message_id, route_item
from hotline.routing.tests.conftest import MakeTrace
from hotline.sim.smtp import SmtpSink
from hotline.takedown.tests.workers import Workers, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers() -> Iterator[Workers]:
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database only on PostgreSQL")
    started = Workers()
    yield started
    started.stop()


@pytest.fixture
def refer(assessed: Callable[..., Any], make_trace: MakeTrace, directory: dict[str, Any]) -> Callable[[int], None]:
    """Route ``count`` domestic items: each gets a referral to the national police unit, queued."""

    def make(count: int) -> None:
        for n in range(count):
            item = assessed("baseline", url=f"https://files-{n}.sim.test/a.png")
            route_item(item, trace=make_trace(item, "BE"), now=timezone.now())

    return make


def _all_sent() -> bool:
    return Referral.objects.exists() and not Referral.objects.exclude(status=ReferralStatus.SENT).exists()


def test_a_worker_killed_mid_send_is_replaced_by_the_same_referral(
        workers: Workers, refer: Callable[[int], None]) -> None:
    refer(1)
    with SmtpSink(data_delay=30) as sink:  # slow to accept DATA: the kill lands inside the send
        first = workers.start(sink, step="referral", lease=3)
        wait_until(lambda: sink.data_started >= 1, 60, "the first worker to start sending")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        referral = Referral.objects.get()
        assert (referral.status, referral.attempts, referral.sent_at) == (ReferralStatus.SENDING, 1, None)
        sink.data_delay = 0
        workers.start(sink, step="referral", lease=3, idle=120)  # waits out the first lease
        wait_until(_all_sent, 60, "the second worker to finish the referral")
        received = sink.wait_for(2)
    referral.refresh_from_db()
    assert referral.attempts == 2 and referral.sent_at is not None
    assert [m.message_id for m in received] == [message_id(referral)] * 2  # the same message, never a new id
    assert AuditEvent.objects.filter(action="routing.referral_sent").count() == 1


def test_four_workers_never_send_a_referral_twice(workers: Workers, refer: Callable[[int], None]) -> None:
    refer(16)
    with SmtpSink(data_delay=0.05) as sink:
        started = [workers.start(sink, step="referral") for _ in range(4)]
        wait_until(_all_sent, 120, "all 16 referrals to be sent")
        for worker in started:
            worker.wait(timeout=30)
        ids = Counter(m.message_id for m in sink.messages())
    referrals = list(Referral.objects.all())
    assert len(referrals) == 16 and {r.attempts for r in referrals} == {1}
    assert sorted(ids) == sorted(message_id(r) for r in referrals) and set(ids.values()) == {1}
    assert AuditEvent.objects.filter(action="routing.referral_sent").count() == 16
    assert all(w.returncode == 0 for w in started), [w.stderr.read() if w.stderr else b"" for w in started]
