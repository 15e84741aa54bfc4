from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from hotline.accounts.models import User
from hotline.accounts.tests.conftest import code, password_step
from hotline.audit.models import AuditEvent
from hotline.conftest import PASSWORD
from hotline.lib.ratelimit import parse_rate
from hotline.lib.tests.probe import accepted_per_hour

# Transactional, like production: the login signals must open their own transactions.
pytestmark = pytest.mark.django_db(transaction=True)


def test_logins_and_failed_attempts_are_audited_without_the_password(
    analyst: User, enrolled: Callable[[User], User]
) -> None:
    enrolled(analyst)
    client = Client(REMOTE_ADDR="198.51.100.7")
    password_step(client, "ana", "wrong-guess-123")
    password_step(client, "ana")
    client.post("/accounts/verify/", {"code": code()})
    client.post("/accounts/logout/")
    events = list(AuditEvent.objects.filter(action__startswith="user.")
                  .exclude(action__in=["user.created", "user.second_factor_enrolled"])
                  .order_by("seq").values_list("action", "object_id", "after"))
    assert [e[0] for e in events] == ["user.login_failed", "user.logged_in", "user.second_factor_passed",
                                      "user.logged_out"]
    assert events[0][1] == "ana" and events[0][2] == {"ip": "198.51.100.7"}
    assert events[2][2] == {"method": "totp", "purpose": "login"}
    assert "wrong-guess" not in str(list(AuditEvent.objects.values_list("after", flat=True)))


@override_settings(HOTLINE_LOGIN_RATE="3/h")
def test_login_attempts_are_rate_limited_per_address(analyst: User) -> None:
    client = Client(REMOTE_ADDR="198.51.100.8")
    codes = [password_step(client, "ana", "nope-nope-nope").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert password_step(client, "ana", "nope-nope-nope").status_code == 429
    right = password_step(client, "ana")
    assert right.status_code == 429  # even the right password waits: no oracle
    assert password_step(Client(REMOTE_ADDR="198.51.100.9"), "ana").status_code == 302


def test_the_password_step_leads_to_the_second_factor_and_keeps_next(
    analyst: User, enrolled: Callable[[User], User]
) -> None:
    enrolled(analyst)
    client = Client()
    response = client.post("/accounts/login/?next=/items/%3Fq%3Dx", {"username": "ana", "password": PASSWORD})
    assert response["Location"] == "/accounts/verify/?next=%2Fitems%2F%3Fq%3Dx"
    before = client.cookies["sessionid"].value
    done = client.post(response["Location"], {"code": code()})
    assert done.status_code == 302 and done["Location"] == "/items/?q=x"
    assert client.cookies["sessionid"].value != before  # a new session id once fully trusted
    assert client.get("/items/").status_code == 200


def test_a_session_ends_after_thirty_idle_minutes(analyst: User, enrolled: Callable[[User], User]) -> None:
    enrolled(analyst)
    start = timezone.now()
    client = Client()
    with time_machine.travel(start, tick=False):
        password_step(client, "ana")
        assert client.post("/accounts/verify/", {"code": code()}).status_code == 302
    with time_machine.travel(start + timedelta(minutes=25), tick=False):
        assert client.get("/queue/").status_code == 200  # activity pushes the expiry forward
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        assert client.get("/queue/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=81), tick=False):
        response = client.get("/queue/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.slow
def test_it_accepts_exactly_the_hourly_login_budget_from_parallel_clients_over_two_hours() -> None:
    limit, _ = parse_rate(settings.HOTLINE_LOGIN_RATE)
    accepted = accepted_per_hour(lambda client, n: int(password_step(client, f"nobody{n}", "nope").status_code),
                                 address="198.51.100.30", clients=8, attempts=3)
    assert accepted == [limit, limit]
