"""Information-request e-mails on the outbox, with real worker processes against PostgreSQL and a real SMTP
server on loopback: a worker SIGKILLed in the middle of a send is replaced by one that sends the same
message (same Message-ID), and four workers in parallel never send a message twice."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.sim.smtp import SmtpSink
from hotline.takedown.models import NoticeState, RequestMessage
from hotline.takedown.services import NewRequest, create_info_request
from hotline.takedown.tests.workers import Workers, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers() -> Iterator[Workers]:
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database only on PostgreSQL")
    started = Workers()
    yield started
    started.stop()


def _request(n: int) -> None:
    now = timezone.now()
    create_info_request(NewRequest(
        kind="preservation", on_behalf_of="hotline", company_name=f"Social Co {n}", email=f"lawful{n}@social.example",
        subject_type="account", subject=f"user {n}", legal_basis="Art. 46bis Code of Criminal Procedure",
        deadline_at=now + timedelta(days=10)), actor=SYSTEM, now=now)


def _message_id(message: RequestMessage) -> str:
    return f"<request-{message.key}@{settings.HOTLINE_MESSAGE_DOMAIN}>"


def _all_sent() -> bool:
    return RequestMessage.objects.exists() and not RequestMessage.objects.exclude(state=NoticeState.SENT).exists()


def test_a_worker_killed_mid_send_is_replaced_by_the_same_request_message(workers: Workers) -> None:
    _request(1)
    with SmtpSink(data_delay=30) as sink:  # slow to accept DATA: the kill lands inside the send
        first = workers.start(sink, step="inforequest", lease=3)
        wait_until(lambda: sink.data_started >= 1, 60, "the first worker to start sending")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        message = RequestMessage.objects.get()
        assert (message.state, message.attempts, message.sent_at) == (NoticeState.SENDING, 1, None)
        sink.data_delay = 0
        workers.start(sink, step="inforequest", lease=3, idle=120)  # waits out the first lease
        wait_until(_all_sent, 60, "the second worker to finish the message")
        received = sink.wait_for(2)
    message.refresh_from_db()
    assert message.attempts == 2 and message.sent_at is not None
    assert [m.message_id for m in received] == [_message_id(message)] * 2  # the same message, never a new id
    assert AuditEvent.objects.filter(action="inforequest.message_sent").count() == 1


def test_four_workers_never_send_a_request_message_twice(workers: Workers) -> None:
    for n in range(24):
        _request(n)
    with SmtpSink(data_delay=0.05) as sink:
        started = [workers.start(sink, step="inforequest") for _ in range(4)]
        wait_until(_all_sent, 120, "all 24 request messages to be sent")
        for worker in started:
            worker.wait(timeout=30)
        ids = Counter(m.message_id for m in sink.messages())
    messages = list(RequestMessage.objects.all())
    assert {m.attempts for m in messages} == {1}
    assert sorted(ids) == sorted(_message_id(m) for m in messages) and set(ids.values()) == {1}
    assert AuditEvent.objects.filter(action="inforequest.message_sent").count() == 24
    assert all(w.returncode == 0 for w in started), [w.stderr.read() if w.stderr else b"" for w in started]
