from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from hotline.accounts.models import User
from hotline.accounts.services import is_locked
from hotline.accounts.tests.conftest import code, password_step
from hotline.audit.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _fresh(n: int) -> Client:
    """A client from its own address: the per-address rate limit stays out of these tests."""
    return Client(REMOTE_ADDR=f"203.0.113.{n}")


def _error(response: object) -> str:
    match = re.search(r'<ul class="errorlist nonfield">(.*?)</ul>', response.content.decode(), re.S)  # type: ignore[attr-defined]
    assert match is not None
    return match.group(1)


def test_it_locks_after_five_failed_passwords_without_telling_whether_the_account_exists(
    analyst: User, enrolled: Callable[[User], User]
) -> None:
    enrolled(analyst)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        wrong = [password_step(_fresh(n), "ana", f"guess-number-{n}") for n in range(5)]
        right = password_step(_fresh(9), "ana")
        nobody = [password_step(_fresh(20 + n), "nobody", f"guess-number-{n}") for n in range(6)]
    assert {r.status_code for r in [*wrong, right, *nobody]} == {200}  # the right password is refused too
    assert {_error(r) for r in [*wrong, right, *nobody]} == {_error(wrong[0])}  # one message for all
    assert "locked for a while" in _error(right)
    assert is_locked(analyst, start) and not is_locked(analyst, start + timedelta(minutes=15, seconds=1))
    locked = AuditEvent.objects.get(action="user.locked")
    assert locked.object_id == str(analyst.pk) and locked.after is not None
    assert (locked.after["factor"], locked.after["ip"]) == ("password", "203.0.113.4")
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        client = _fresh(30)
        assert password_step(client, "ana").status_code == 302
        assert client.post("/accounts/verify/", {"code": code()}).status_code == 302


def test_failures_count_within_the_window_and_a_sign_in_starts_the_count_again(
    analyst: User, enrolled: Callable[[User], User]
) -> None:
    enrolled(analyst)
    start = timezone.now().replace(second=0, microsecond=0)
    with time_machine.travel(start, tick=False):
        for n in range(4):
            password_step(_fresh(n), "ana", "not-the-password")
    with time_machine.travel(start + timedelta(minutes=16), tick=False):  # the window has passed
        for n in range(4):
            password_step(_fresh(n), "ana", "not-the-password")
        client = _fresh(10)
        password_step(client, "ana")
        assert client.post("/accounts/verify/", {"code": code()}).status_code == 302
    with time_machine.travel(start + timedelta(minutes=17), tick=False):
        for n in range(4):
            password_step(_fresh(n), "ana", "not-the-password")
        assert not is_locked(analyst, timezone.now())
        password_step(_fresh(5), "ana", "not-the-password")
        assert is_locked(analyst, timezone.now())


def test_wrong_codes_count_too_and_the_locked_session_is_logged_out(
    analyst: User, enrolled: Callable[[User], User]
) -> None:
    enrolled(analyst)
    client = _fresh(1)
    password_step(client, "ana")
    right = code()
    wrong = "000000" if right != "000000" else "111111"
    answers = [client.post("/accounts/verify/", {"code": wrong}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 302]
    assert answers[-1]["Location"] == "/accounts/login/"
    assert "/accounts/login/" in client.get("/queue/")["Location"]  # the half-done session is gone
    assert (AuditEvent.objects.get(action="user.locked").after or {}).get("factor") == "second_factor"
    again = _fresh(2)
    assert password_step(again, "ana").status_code == 200  # locked: the password step refuses too


def test_an_administrator_unlocks_an_account(analyst: User, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(5):
        password_step(_fresh(n), "ana", "not-the-password")
    call_command("accounts", "status", "ana")
    assert "not enrolled, 0 recovery code(s) left, locked" in capsys.readouterr().out
    call_command("accounts", "unlock", "ana")
    assert "ana: unlocked" in capsys.readouterr().out
    assert password_step(_fresh(9), "ana").status_code == 302
    event = AuditEvent.objects.get(action="user.unlocked")
    assert event.actor_label == "cli:accounts-unlock" and (event.before or {}).get("locked_until") is not None
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("accounts", "unlock", "ghost")
