"""Crash safety with real worker processes against PostgreSQL, a real SMTP server and a provider API on loopback:
a worker SIGKILLed in the middle of a send is replaced without losing the notice or sending it under another
id, and several workers in parallel never send a notice twice."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.sim.dns import SimDns
from hotline.sim.providers import ProviderApi
from hotline.sim.rdap import SimRdap
from hotline.sim.smtp import SmtpSink
from hotline.takedown.models import Notice, NoticeState
from hotline.takedown.render import message_id
from hotline.takedown.tests.conftest import MakeContact, MakeTraced
from hotline.takedown.tests.workers import Workers, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def start_worker(sim_dns: SimDns, sim_rdap: SimRdap) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start a notice worker process (see ``Workers``), with the loopback DNS and RDAP for the re-trace."""
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database only on PostgreSQL")
    host, port = sim_dns.nameserver
    workers = Workers(env={"HOTLINE_FETCH_ALLOW_LOOPBACK": "true", "HOTLINE_DNS_RESOLVERS": f"{host}:{port}",
                           "HOTLINE_RDAP_BASE_URL": sim_rdap.base_url})
    yield workers.start
    workers.stop()


def _all_sent() -> bool:
    return Notice.objects.exists() and not Notice.objects.exclude(state=NoticeState.SENT).exists()


def test_a_worker_killed_mid_send_is_replaced_by_the_same_message(
    start_worker: Callable[..., subprocess.Popen[bytes]], make_contact: MakeContact, traced_item: MakeTraced
) -> None:
    traced_item(make_contact(), due=timezone.now() - timedelta(hours=2))
    with SmtpSink(data_delay=30) as sink:  # slow to accept DATA: the kill lands inside the send
        first = start_worker(sink, lease=3)  # the replacement takes the notice over once this lease runs out
        wait_until(lambda: sink.data_started >= 1, 60, "the first worker to start sending")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        notice = Notice.objects.get()
        assert (notice.state, notice.attempts, notice.sent_at) == (NoticeState.SENDING, 1, None)
        sink.data_delay = 0
        start_worker(sink, lease=3, idle=120)  # waits out the first lease however slow the machine is
        wait_until(_all_sent, 60, "the second worker to finish the notice")
        received = sink.wait_for(2)
    notice.refresh_from_db()
    assert notice.attempts == 2 and notice.sent_at is not None
    assert [m.message_id for m in received] == [message_id(notice)] * 2  # the same message, never a new id
    assert AuditEvent.objects.filter(action="takedown.notice_lease_expired").count() == 1
    assert AuditEvent.objects.filter(action="takedown.notice_sent", object_type="takedown.notice").count() == 1


def test_parallel_workers_never_send_a_notice_twice(
    start_worker: Callable[..., subprocess.Popen[bytes]], make_contact: MakeContact, traced_item: MakeTraced,
    settings: Any
) -> None:
    due = timezone.now() - timedelta(hours=2)
    with SmtpSink(data_delay=0.05) as sink, ProviderApi() as api:
        api.delay = 0.05
        for n in range(30):
            contact = make_contact(channel="api", endpoint=api.url) if n % 3 == 0 else make_contact()
            traced_item(contact, due=due)
        workers = [start_worker(sink) for _ in range(3)]
        wait_until(lambda: Notice.objects.count() == 30 and _all_sent(), 120, "all 30 notices to be sent")
        for worker in workers:
            worker.wait(timeout=30)
        emails = Counter(m.message_id for m in sink.messages())
        keys = Counter(delivery.key for delivery in api.deliveries)
    notices = list(Notice.objects.all())
    assert {n.attempts for n in notices} == {1}
    assert sorted(emails) == sorted(message_id(n) for n in notices if n.channel == "email")
    assert set(emails.values()) == {1} and len(emails) == 20
    assert sorted(keys) == sorted(str(n.key) for n in notices if n.channel == "api")
    assert set(keys.values()) == {1} and len(keys) == 10
    assert all(w.returncode == 0 for w in workers), [w.stderr.read() if w.stderr else b"" for w in workers]
