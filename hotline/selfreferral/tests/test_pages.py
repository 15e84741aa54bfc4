"""The public pages (hashes in, code out, status by code, withdraw) and the analysts' queue."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client

from hotline.accounts.models import User
from hotline.selfreferral.models import Referral, ReferralStatus

pytestmark = pytest.mark.django_db
FILES = [{"kind": "image", "sha256": "a" * 64, "md5": "b" * 32, "pdq": "c" * 64, "quality": 90}]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def _submit(client: Client, **extra: str) -> str:
    response = client.post("/remove-my-images/", {"hashes": json.dumps(FILES), "confirm_own": "on", **extra})
    assert response.status_code == 200
    found = re.search(r'id="selfreferral-code">(SR-[0-9A-Z-]+)<', response.content.decode())
    assert found, response.content.decode()[:2000]
    return found.group(1)


@pytest.mark.parametrize(("prefix", "done", "failed"), [
    ("", "Fingerprints ready for %(count)s file(s). Nothing else is sent.", "This file could not be read: %(name)s"),
    ("/nl", "Vingerafdrukken klaar voor %(count)s bestand(en).", "Dit bestand kon niet gelezen worden: %(name)s"),
    ("/fr", "Empreintes prêtes pour %(count)s fichier(s).", "Ce fichier n&#x27;a pas pu être lu : %(name)s"),
])
def test_the_script_gets_its_messages_in_the_page_language(prefix: str, done: str, failed: str) -> None:
    html = Client().get(f"{prefix}/remove-my-images/").content.decode()
    progress = re.search(r'<p id="selfreferral-progress"[^>]*>', html)
    assert progress, html[:2000]
    assert f'data-done="{done}' in progress.group(0) and f'data-failed="{failed}"' in progress.group(0)


def test_the_page_keeps_a_strict_policy_and_names_no_file_field() -> None:
    response = Client().get("/remove-my-images/")
    html, policy = response.content.decode(), response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy and "media-src 'self' blob:" in policy
    chooser = re.search(r"<input type=\"file\"[^>]*>", html)
    assert chooser and "name=" not in chooser.group(0)
    assert re.findall(r"<script src=\"([^\"]+)\"", html) == [
        "/static/hotline/menu.js", "/static/selfreferral/hashing.js", "/static/selfreferral/selfreferral.js"]
    assert "<script>" not in html and 'enctype="multipart' not in html
    assert Client().get("/report/")["Content-Security-Policy"].count("media-src") == 0


@pytest.mark.parametrize(("prefix", "title"), [("", "Remove my images"), ("/nl", "Verwijder mijn beelden"),
                                               ("/fr", "Supprimer mes images")])
def test_the_page_speaks_english_dutch_and_french(prefix: str, title: str) -> None:
    assert title in Client().get(f"{prefix}/remove-my-images/").content.decode()
    assert f'href="{prefix}/remove-my-images/"' in Client().get(f"{prefix}/report/").content.decode()


def test_hashes_give_a_code_and_the_code_a_status(analyst: User, analyst2: User,
                                                  login: Callable[[User], Client]) -> None:
    client = Client()
    code = _submit(client, email="me@example.test")
    referral = Referral.objects.get()
    assert referral.contact_email == "me@example.test" and referral.status == ReferralStatus.SUBMITTED
    page = client.get("/remove-my-images/status/", {"code": code.lower()}).content.decode()
    assert 'data-status="submitted"' in page
    for user in (analyst, analyst2):
        assert login(user).post(f"/self-referrals/{referral.pk}/confirm/").status_code == 302
    page = client.get("/remove-my-images/status/", {"code": code}).content.decode()
    assert 'data-status="confirmed" data-places="0" data-removed="0"' in page
    assert "Found in 0 places, 0 removed." in page
    assert "We know no request" in client.get("/remove-my-images/status/",
                                               {"code": "SR-0000-0000-0000-0000"}).content.decode()
    page = client.post("/remove-my-images/withdraw/", {"code": code}).content.decode()
    assert 'data-status="withdrawn"' in page
    assert Referral.objects.get().status == ReferralStatus.WITHDRAWN


def test_bad_hashes_are_refused_with_the_field_named() -> None:
    response = Client().post("/remove-my-images/", {"hashes": json.dumps([{"kind": "image", "sha256": "zz"}]),
                                                    "confirm_own": "on"})
    assert response.status_code == 200 and "file 1: sha256" in response.content.decode()
    assert not Referral.objects.exists()


def test_the_queue_needs_two_different_analysts(analyst: User, analyst2: User,
                                                login: Callable[[User], Client]) -> None:
    _submit(Client())
    referral = Referral.objects.get()
    first = login(analyst)
    assert f'data-referral="{referral.pk}"' in first.get("/self-referrals/").content.decode()
    first.post(f"/self-referrals/{referral.pk}/confirm/")
    again = first.post(f"/self-referrals/{referral.pk}/confirm/", follow=True).content.decode()
    assert "a different analyst must confirm it" in again
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.FIRST_CONFIRMED
    login(analyst2).post(f"/self-referrals/{referral.pk}/confirm/")
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.CONFIRMED and referral.confirmed_by == analyst2


def test_an_analyst_can_refuse_with_a_reason(analyst: User, login: Callable[[User], Client]) -> None:
    _submit(Client())
    referral = Referral.objects.get()
    client = login(analyst)
    client.post(f"/self-referrals/{referral.pk}/reject/", {"reason": ""})
    assert Referral.objects.get().status == ReferralStatus.SUBMITTED
    client.post(f"/self-referrals/{referral.pk}/reject/", {"reason": "400 files"})
    assert Referral.objects.get().status == ReferralStatus.REJECTED
