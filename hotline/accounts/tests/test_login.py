from __future__ import annotations

import pytest
from django.test import Client, override_settings

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.conftest import PASSWORD

# Transactional, like production: the login signals must open their own transactions.
pytestmark = pytest.mark.django_db(transaction=True)


def test_logins_and_failed_attempts_are_audited_without_the_password(analyst: User) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    client.post("/accounts/login/", {"username": "ana", "password": "wrong-guess-123"})
    client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    client.post("/accounts/logout/")
    events = list(AuditEvent.objects.filter(action__startswith="user.").exclude(action="user.created")
                  .order_by("seq").values_list("action", "object_id", "after"))
    assert [e[0] for e in events] == ["user.login_failed", "user.logged_in", "user.logged_out"]
    assert events[0][1] == "ana" and events[0][2] == {"ip": "198.51.100.7"}
    assert "wrong-guess" not in str(list(AuditEvent.objects.values_list("after", flat=True)))


@override_settings(HOTLINE_LOGIN_RATE="3/h")
def test_login_attempts_are_rate_limited_per_address(analyst: User) -> None:
    client = Client(REMOTE_ADDR="198.51.100.8")
    codes = [client.post("/accounts/login/", {"username": "ana", "password": "nope-nope-nope"}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    right = client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    assert right.status_code == 429  # even the right password waits: no oracle for guessers
    assert Client(REMOTE_ADDR="198.51.100.9").post(
        "/accounts/login/", {"username": "ana", "password": PASSWORD}).status_code == 302


def test_a_session_ends_after_thirty_idle_minutes(analyst: User) -> None:
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    start = timezone.now()
    client = Client()
    with time_machine.travel(start, tick=False):
        client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    with time_machine.travel(start + timedelta(minutes=25), tick=False):
        assert client.get("/queue/").status_code == 200  # activity pushes the expiry forward
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        assert client.get("/queue/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=81), tick=False):
        response = client.get("/queue/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
