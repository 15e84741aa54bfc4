"""The managers' ICCAM errors page: refused writes and the pull's error, in English, Dutch and French."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.iccam.models import Push, PushState
from hotline.iccam.tests.pushing import drain, pulled
from hotline.sim.iccam import SimIccam

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("prefix", "title", "state"), [
    ("", "ICCAM errors", "Refused by ICCAM"), ("/nl", "ICCAM-fouten", "Geweigerd door ICCAM"),
    ("/fr", "Erreurs ICCAM", "Refusé par ICCAM")])
def test_it_lists_refused_writes_for_managers(iccam_on: SimIccam, facts: Any, login: Any, manager: Any,
                                              prefix: str, title: str, state: str) -> None:
    content, item = pulled(iccam_on)
    iccam_on.contents[content.content_id]["assignedCountryCode"] = "NL"
    facts.assess(item, "baseline")
    drain()
    assert Push.objects.get().state == PushState.REFUSED
    page = login(manager).get(f"{prefix}/iccam/errors/").content.decode()
    assert title in page and state in page and "assigned to NL" in page


def test_the_menu_links_it_for_managers_only(login: Any, manager: Any, analyst: Any) -> None:
    assert "/iccam/errors/" in login(manager).get("/", follow=True).content.decode()
    assert "/iccam/errors/" not in login(analyst).get("/", follow=True).content.decode()
    assert login(analyst).get("/iccam/errors/").status_code == 403


def test_it_says_when_the_connector_is_off(login: Any, manager: Any) -> None:
    page = login(manager).get("/iccam/errors/").content.decode()
    assert 'id="iccam-off"' in page and "No refused or failed writes." in page
