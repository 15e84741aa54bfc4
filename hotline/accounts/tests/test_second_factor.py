from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts import otp
from hotline.accounts.models import RecoveryCode, TOTPDevice, User
from hotline.accounts.services import confirm_enrolment, start_enrolment
from hotline.accounts.tests.conftest import SECRET, code, password_step
from hotline.audit.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _actions(prefix: str = "user.") -> list[str]:
    return list(AuditEvent.objects.filter(action__startswith=prefix).order_by("seq").values_list("action", flat=True))


def test_it_enrols_on_first_login_from_password_to_code_to_home(analyst: User) -> None:
    client = Client()
    assert password_step(client, "ana")["Location"] == "/accounts/verify/?next=%2F"
    assert client.get("/accounts/verify/?next=%2F")["Location"] == "/accounts/enrol/?next=%2F"
    page = client.get("/accounts/enrol/?next=%2F")
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "<path" in html and "style=" not in html.split("<svg")[1]
    match = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', html)
    assert match is not None
    secret = match.group(1).replace(" ", "")
    assert secret == TOTPDevice.objects.get(user=analyst).secret and len(secret) == 32
    uri = otp.provisioning_uri(secret, "ana", "Hotline")
    assert uri.startswith("otpauth://totp/Hotline:ana?secret=")
    assert otp.qr_svg(uri, title="QR code for your authenticator app") in html  # the QR code holds this URI
    assert client.get("/accounts/enrol/").content.decode().count(match.group(1)) == 1  # same secret on reload
    assert client.get("/queue/")["Location"] == "/accounts/verify/?next=%2Fqueue%2F"  # not yet

    wrong = client.post("/accounts/enrol/?next=%2F", {"code": "000000" if code(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and "That code is not valid" in wrong.content.decode()
    assert TOTPDevice.objects.get(user=analyst).confirmed_at is None

    done = client.post("/accounts/enrol/?next=%2F", {"code": code(secret)})
    shown = re.findall(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>", done.content.decode())
    assert done.status_code == 200 and len(set(shown)) == 10
    stored = set(RecoveryCode.objects.filter(user=analyst).values_list("code_hash", flat=True))
    assert stored == {otp.hash_recovery_code(c) for c in shown}  # hashes only, never the codes
    assert client.get("/")["Location"] == reverse("assessment:queue")
    assert client.get("/queue/").status_code == 200
    assert _actions() == ["user.created", "user.logged_in", "user.second_factor_enrolment_started",
                          "user.second_factor_enrolled"]


def test_it_stores_the_secret_encrypted(analyst: User, enrolled: Callable[[User], User]) -> None:
    enrolled(analyst)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice")
        (raw,) = cursor.fetchone()
    assert raw.startswith("v1:") and SECRET not in raw
    assert TOTPDevice.objects.get(user=analyst).secret == SECRET


def test_it_refuses_a_wrong_code_then_a_replayed_one(analyst: User, enrolled: Callable[[User], User]) -> None:
    enrolled(analyst)
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        first = Client()
        password_step(first, "ana")
        wrong = first.post("/accounts/verify/", {"code": "12345"})
        assert wrong.status_code == 200 and "not valid" in wrong.content.decode()
        assert first.post("/accounts/verify/", {"code": code()}).status_code == 302
        second = Client()  # someone who saw the code over the shoulder, in the same 30 seconds
        password_step(second, "ana")
        replay = second.post("/accounts/verify/", {"code": code()})
        assert replay.status_code == 200 and "used already" in replay.content.decode()
        assert second.get("/queue/").status_code == 302
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert second.post("/accounts/verify/", {"code": code()}).status_code == 302
    assert _actions("user.second_factor_") == [
        "user.second_factor_enrolled", "user.second_factor_failed", "user.second_factor_passed",
        "user.second_factor_failed", "user.second_factor_passed"]


def test_it_allows_one_step_of_clock_drift_and_no_more(analyst: User, enrolled: Callable[[User], User]) -> None:
    enrolled(analyst)
    start = timezone.now().replace(second=5, microsecond=0)
    ahead, far_ahead = code(now=start + timedelta(seconds=30)), code(now=start + timedelta(seconds=90))
    with time_machine.travel(start, tick=False):
        client = Client()
        password_step(client, "ana")
        if far_ahead != ahead:
            assert client.post("/accounts/verify/", {"code": far_ahead}).status_code == 200
        assert client.post("/accounts/verify/", {"code": ahead}).status_code == 302
    assert TOTPDevice.objects.get(user=analyst).last_used_step == otp.step_number(start) + 1


def test_it_accepts_each_recovery_code_once(analyst: User) -> None:
    now = timezone.now()
    device = start_enrolment(analyst, now=now)
    codes = confirm_enrolment(analyst, otp.code_at(device.secret, now), now=now)
    assert codes is not None and len(codes) == 10
    first = Client()
    password_step(first, "ana")
    used = first.post("/accounts/verify/", {"code": codes[0]})
    assert used.status_code == 302 and first.get("/queue/").status_code == 200
    again = Client()
    password_step(again, "ana")
    assert again.post("/accounts/verify/", {"code": codes[0]}).status_code == 200
    typed = codes[1].upper().replace("-", " ")  # case, spaces and dashes do not matter
    assert again.post("/accounts/verify/", {"code": typed}).status_code == 302
    events = AuditEvent.objects.filter(action="user.recovery_code_used").order_by("seq")
    assert [e.after for e in events] == [{"remaining": 9}, {"remaining": 8}]
    assert RecoveryCode.objects.unused().filter(user=analyst).count() == 8


def test_it_makes_new_recovery_codes_that_replace_the_old(analyst: User) -> None:
    now = timezone.now()
    device = start_enrolment(analyst, now=now)
    old = confirm_enrolment(analyst, otp.code_at(device.secret, now), now=now)
    assert old is not None
    client = Client()
    with time_machine.travel(now + timedelta(seconds=31), tick=False):
        password_step(client, "ana")
        assert client.post("/accounts/verify/", {"code": otp.code_at(device.secret, timezone.now())}).status_code == 302
        assert "10 recovery codes left" in client.get("/accounts/security/").content.decode()
        page = client.post("/accounts/security/recovery-codes/").content.decode()
    new = re.findall(r"<li>([a-z2-9-]{19})</li>", page)
    assert len(new) == 10 and not set(new) & set(old)
    stranger = Client()
    password_step(stranger, "ana")
    assert stranger.post("/accounts/verify/", {"code": old[2]}).status_code == 200
    assert stranger.post("/accounts/verify/", {"code": new[2]}).status_code == 302
    assert AuditEvent.objects.filter(action="user.recovery_codes_generated").count() == 1


def test_it_holds_every_staff_page_until_the_second_factor(analyst: User, enrolled: Callable[[User], User]) -> None:
    from hotline.accounts.middleware import OPEN_BEFORE_SECOND_FACTOR
    from hotline.core.tests.test_access_matrix import all_routes

    enrolled(analyst)
    client = Client()
    client.force_login(analyst)  # the password step, without the second factor
    held = []
    for name, pattern in sorted(all_routes().items()):
        if name in OPEN_BEFORE_SECOND_FACTOR or name.startswith("api:"):
            continue
        url = _url_for(name, pattern)
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 302, (name, response.status_code)
            assert response["Location"].startswith("/accounts/verify/"), (name, response["Location"])
        held.append(name)
    assert {"core:home", "assessment:queue", "evidence:reveal", "admin:index", "audit:index",
            "accounts:reauth", "accounts:security"} <= set(held)
    assert len(held) > 40
    assert client.get("/nl/queue/")["Location"] == "/nl/accounts/verify/?next=%2Fnl%2Fqueue%2F"  # in Dutch
    assert client.get("/report/").status_code == 200 and client.get("/nl/report/status/").status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/api/openapi.json").status_code == 200
    assert client.get("/accounts/verify/").status_code == 200


def _url_for(name: str, pattern: object) -> str:
    """A URL for the route with made-up arguments: the middleware answers before any view runs."""
    route = pattern.pattern  # type: ignore[attr-defined]
    kwargs: dict[str, object] = {}
    for key, converter in getattr(route, "converters", {}).items():
        kwargs[key] = 1 if type(converter).__name__ == "IntConverter" else "1"
    for key in route.regex.groupindex:
        kwargs.setdefault(key, "accounts" if key == "app_label" else "1")
    return reverse(name, kwargs=kwargs)


def test_a_marker_for_another_user_opens_nothing(analyst: User, senior: User) -> None:
    client = Client()
    client.force_login(analyst)
    session = client.session
    session["hotline_second_factor"] = {"user": str(senior.pk), "at": timezone.now().timestamp()}
    session.save()
    assert client.get("/queue/")["Location"].startswith("/accounts/verify/")


def test_reset_2fa_ends_the_sessions_and_the_next_login_enrols(
    analyst: User, senior: User, signed_in: Callable[[User], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    mine, other = signed_in(analyst), signed_in(senior)
    call_command("accounts", "reset-2fa", "ana")
    assert "1 session(s) ended" in capsys.readouterr().out
    assert "/accounts/login/" in mine.get("/queue/")["Location"]
    assert other.get("/queue/").status_code == 200  # other people stay signed in
    assert not TOTPDevice.objects.filter(user=analyst).exists()
    assert not RecoveryCode.objects.filter(user=analyst).exists()
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert event.actor_label == "cli:accounts-reset-2fa" and event.after == {"sessions_ended": 1}
    again = Client()
    password_step(again, "ana")
    assert again.get("/accounts/verify/")["Location"].startswith("/accounts/enrol/")
    call_command("accounts", "status", "ana")
    assert "not enrolled" in capsys.readouterr().out


def test_demo_users_are_pre_enrolled_with_a_key_that_signs_in(analyst: User) -> None:
    from hotline.accounts.services import ensure_enrolled
    from hotline.audit.services import Actor

    key = ensure_enrolled(analyst, actor=Actor(label="demo"))
    assert ensure_enrolled(analyst, actor=Actor(label="demo")) == key  # a second run keeps the key
    client = Client()
    password_step(client, "ana")
    assert client.post("/accounts/verify/", {"code": code(key)}).status_code == 302
    assert AuditEvent.objects.filter(action="user.second_factor_enrolled").count() == 1
