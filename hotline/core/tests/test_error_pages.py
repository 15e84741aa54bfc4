"""The error pages: styled (the site's layout and style sheet), translated, with a way back, the same with DEBUG
on (the demo) and off; an object a staff user may not see answers exactly like a missing one (404), a page the
role may not open at all answers 403. Never Django's technical 404 with its list of every route."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone, translation

from hotline import urls
from hotline.accounts.models import User
from hotline.audit.services import SYSTEM
from hotline.cases.services import open_case
from hotline.core.views import server_error
from hotline.reports.models import Item

pytestmark = pytest.mark.django_db

TITLES = {"en": "Page not found", "nl": "Pagina niet gevonden", "fr": "Page introuvable"}
FORBIDDEN = {"en": "Not allowed", "nl": "Niet toegestaan", "fr": "Accès refusé"}
PREFIX = {"en": "", "nl": "/nl", "fr": "/fr"}
TECHNICAL = ("URLconf", "Django tried these URL patterns", "DEBUG = True", "Traceback")


def styled(body: str) -> bool:
    return "hotline/site.css" in body and 'class="card error-page"' in body and 'class="button"' in body


def same_page(body: str, path: str) -> str:
    """The body with what differs from one request to the next taken out: the address and the CSRF token."""
    body = body.replace(path, "/PATH/")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("lang", ["en", "nl", "fr"])
def test_it_answers_an_unknown_address_with_the_styled_translated_404(debug: bool, lang: str) -> None:
    with override_settings(DEBUG=debug):
        response = Client().get(f"{PREFIX[lang]}/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert styled(body) and TITLES[lang] in body and f'<html lang="{lang}">' in body
    assert not any(marker in body for marker in TECHNICAL)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("lang", ["en", "nl", "fr"])
def test_it_answers_a_page_the_role_may_not_open_with_the_styled_translated_403(
        debug: bool, lang: str, analyst: User, login: Any) -> None:
    client = login(analyst)
    with override_settings(DEBUG=debug):
        response = client.get(f"{PREFIX[lang]}/statistics/")  # managers only
    body = response.content.decode()
    assert response.status_code == 403
    assert styled(body) and FORBIDDEN[lang] in body
    assert 'class="menu"' in body  # the analyst's own menu, to go on working


@pytest.mark.parametrize("lang", ["en", "nl", "fr"])
def test_it_answers_a_bad_request_with_the_styled_translated_400(lang: str) -> None:
    response = Client().get(f"{PREFIX[lang]}/report/", HTTP_HOST="bad host!")
    body = response.content.decode()
    assert response.status_code == 400
    assert styled(body)
    assert {"en": "Bad request", "nl": "Ongeldig verzoek", "fr": "Requête invalide"}[lang] in body


@pytest.mark.parametrize("lang", ["en", "nl", "fr"])
def test_it_renders_the_500_page_without_the_database_or_a_request_context(
        lang: str, django_assert_num_queries: Any) -> None:
    assert urls.handler500 == "hotline.core.views.server_error"
    with translation.override(lang), django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "hotline/site.css" in body and 'href="/"' in body
    titles = {"en": "Something went wrong", "nl": "Er ging iets mis", "fr": "Une erreur s\u2019est produite"}
    assert titles[lang] in body


def test_it_answers_a_failing_view_with_the_styled_500(analyst: User, login: Any) -> None:
    client = login(analyst)
    client.raise_request_exception = False
    with mock.patch("hotline.core.views.current_user", side_effect=RuntimeError("boom")):
        response = client.get("/nl/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "Er ging iets mis" in body and "boom" not in body


@pytest.mark.parametrize("debug", [False, True])
def test_a_police_liaison_on_a_non_illegal_item_gets_the_same_404_as_for_a_missing_item(
        debug: bool, police: User, login: Any, make_item: Callable[..., Item]) -> None:
    item = make_item()  # not assessed: no verdict, not police business
    missing = Item.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000  # type: ignore[operator]
    client = login(police)
    with override_settings(DEBUG=debug):
        hidden = client.get(f"/items/{item.pk}/")
        absent = client.get(f"/items/{missing}/")
    assert hidden.status_code == absent.status_code == 404
    assert same_page(hidden.content.decode(), f"/items/{item.pk}/") == same_page(
        absent.content.decode(), f"/items/{missing}/")
    assert styled(hidden.content.decode())
    assert not any(marker in hidden.content.decode() for marker in TECHNICAL)


@pytest.mark.parametrize("debug", [False, True])
def test_a_police_liaison_on_a_case_without_illegal_items_gets_the_same_404_as_for_a_missing_case(
        debug: bool, police: User, login: Any, make_item: Callable[..., Item]) -> None:
    case = open_case("a case", "other", [make_item()], actor=SYSTEM, now=timezone.now())
    client = login(police)
    with override_settings(DEBUG=debug):
        hidden = client.get(f"/cases/{case.pk}/")
        absent = client.get(f"/cases/{case.pk + 1000}/")
    assert hidden.status_code == absent.status_code == 404
    assert same_page(hidden.content.decode(), f"/cases/{case.pk}/") == same_page(
        absent.content.decode(), f"/cases/{case.pk + 1000}/")


def test_a_role_that_may_not_read_items_at_all_gets_the_styled_403(
        admin_user: User, login: Any, make_item: Callable[..., Item]) -> None:
    item = make_item()
    response = login(admin_user).get(f"/items/{item.pk}/")
    assert response.status_code == 403 and styled(response.content.decode())
