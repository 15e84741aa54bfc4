"""Every route x every role. A route missing from ROUTES fails the suite: add it with its rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from hotline.accounts.models import ApiClient, User
from hotline.assessment.services import assess_item, claim_item
from hotline.assessment.tests.test_workflow import CLEAR
from hotline.reports.models import Item

pytestmark = pytest.mark.django_db

ANON, OUTSIDER = "anonymous", "outsider"
ALL = {ANON, OUTSIDER, "analyst", "senior_analyst", "police_liaison", "manager", "admin"}
STAFF = ALL - {ANON}
ASSESSORS = {"analyst", "senior_analyst"}
READERS = {"analyst", "senior_analyst", "manager", "police_liaison"}

# route name -> (method, allowed personas). "item" routes get the pk of an illegal item.
ROUTES: dict[str, tuple[str, set[str]]] = {
    "healthz": ("GET", ALL),
    "core:home": ("GET", ALL - {OUTSIDER}),
    "reports:form": ("GET", ALL),
    "reports:status": ("GET", ALL),
    "accounts:login": ("GET", ALL),
    "accounts:logout": ("POST", ALL),
    "assessment:queue": ("GET", ASSESSORS),
    "assessment:next": ("POST", ASSESSORS),
    "assessment:items": ("GET", READERS),
    "assessment:item": ("GET", READERS),
    "assessment:claim": ("POST", ASSESSORS),
    "assessment:release": ("POST", ASSESSORS),
    "assessment:assess": ("POST", ASSESSORS),
    "assessment:request_review": ("POST", ASSESSORS),
    "audit:index": ("GET", {"admin", "manager"}),
    "evidence:thumbnail": ("GET", ASSESSORS),
    "evidence:revealed": ("GET", set()),  # only after a reveal: see evidence/tests/test_viewing.py
    "evidence:reveal": ("POST", ASSESSORS),
    "evidence:heartbeat": ("POST", ASSESSORS),
    "evidence:exposure": ("GET", {"manager"}),
    "hashes:banks": ("GET", {"senior_analyst", "manager"}),
    "hashes:bank": ("GET", {"senior_analyst", "manager"}),
    "hashes:disable": ("POST", {"senior_analyst"}),
    "hashes:pending": ("GET", ASSESSORS),
    "hashes:confirm": ("POST", ASSESSORS),
    "hashes:overrule": ("POST", ASSESSORS),
    # tracing routes
    # partners routes
    # routing routes
    "routing:attention": ("GET", {"analyst", "senior_analyst", "manager"}),
    "routing:item": ("GET", READERS),
    "routing:referrals": ("GET", {"senior_analyst", "police_liaison", "manager"}),
    "routing:referral": ("GET", {"senior_analyst", "police_liaison", "manager"}),
    "routing:answer": ("POST", {"police_liaison"}),
    # takedown routes
    # mailintake routes
}
# Whole namespaces with one rule.
NAMESPACES: dict[str, set[str]] = {"admin": {"admin"}}
# API operations: only a bearer token of an active client opens them; sessions do not.
API_ROUTES = {
    "api:submit": ("POST", {}),
    "api:get_submission": ("GET", {"submission_id": "s1"}),
    "api:report_status": ("GET", {"reference": "HL-0000-0000-0000"}),
    "api:lookup_hashes": ("POST", {}),
    "api:match_file": ("POST", {}),
}
API_PUBLIC = {"api:openapi-json", "api:openapi-view", "api:api-root"}


def _walk(patterns: list[Any], namespace: str | None = None) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = ":".join(n for n in (namespace, pattern.namespace) if n) or None
            yield from _walk(pattern.url_patterns, ns)
        elif pattern.name:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern


def all_routes() -> dict[str, URLPattern]:
    return dict(_walk(get_resolver().url_patterns))


def test_every_route_has_an_access_rule() -> None:
    missing = [
        name for name in all_routes()
        if name not in ROUTES and name not in API_ROUTES and name not in API_PUBLIC
        and name.split(":")[0] not in NAMESPACES
    ]
    assert missing == [], f"add these routes to the access matrix: {missing}"


@pytest.fixture
def illegal_item(make_item: Any, analyst2: User) -> Item:
    item: Item = make_item()
    claim_item(item, user=analyst2)
    assess_item(item, CLEAR, user=analyst2)
    return item


def _bank_object(route: str, item: Item, make_media: Any) -> int:
    """The object a hashes route takes: a bank, an entry, an item or a media file."""
    from django.utils import timezone

    from hotline.hashes.models import Bank, Entry

    bank = Bank.objects.create(name=f"bank for {route}", kind="partner")
    entry = Entry.objects.create(bank=bank, signal_type="md5", value="f" * 32, added_at=timezone.now())
    targets = {"hashes:bank": bank.pk, "hashes:disable": entry.pk, "hashes:confirm": item.pk}
    return targets.get(route) or make_media(item).pk


def _routing_object(route: str, item: Item, make_media: Any) -> int:
    """Referral routes take a referral; the others an item."""
    if not route.startswith("routing:referral") and route != "routing:answer":
        return item.pk
    from django.utils import timezone

    from hotline.audit.services import SYSTEM
    from hotline.partners.models import PoliceContact
    from hotline.routing.services import refer_items

    police = PoliceContact.objects.create(name="Unit", country="BE", kind="national", email="unit@police.example")
    return refer_items([item], police, actor=SYSTEM, now=timezone.now()).pk


# domain -> the object (pk) its routes take, when it is not an item. Add your domain's factory here.
OBJECT_FACTORIES: dict[str, Callable[[str, Item, Any], int]] = {
    "evidence": lambda route, item, make_media: make_media(item).pk,
    "hashes": _bank_object,
    "routing": _routing_object,
    # tracing objects
    # partners objects
    # takedown objects
    # mailintake objects
    # accounts objects
}


def _client(persona: str, personas: dict[str, User]) -> Client:
    client = Client()
    if persona != ANON:
        client.force_login(personas[persona])
    return client


def _allowed(response: Any) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return False
    location = response.headers.get("Location", "")
    return not (response.status_code == 302 and "/login/" in location
                and "logout" not in response.request["PATH_INFO"])


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_route_access_by_role(route: str, personas: dict[str, User], illegal_item: Item, make_media: Any) -> None:
    method, allowed = ROUTES[route]
    pattern = all_routes()[route]
    factory = OBJECT_FACTORIES.get(route.split(":")[0])
    target = factory(route, illegal_item, make_media) if factory else illegal_item.pk
    kwargs = {"pk": target} if "pk" in pattern.pattern.converters else {}
    url = reverse(route, kwargs=kwargs)
    outcome = {}
    for persona in sorted(ALL):
        client = _client(persona, personas)
        response = client.post(url) if method == "POST" else client.get(url)
        outcome[persona] = _allowed(response)
    assert {p for p, ok in outcome.items() if ok} == allowed


def test_admin_namespace_is_for_administrators_only(personas: dict[str, User]) -> None:
    simple = [name for name, p in all_routes().items()
              if name.startswith("admin:") and not p.pattern.converters and "<" not in str(p.pattern)]
    assert "admin:index" in simple and "admin:accounts_user_changelist" in simple
    for name in simple:
        if name in ("admin:logout", "admin:login"):
            continue
        url = reverse(name)
        granted = {persona for persona in ALL - {"admin"} if _allowed(_client(persona, personas).get(url))}
        assert granted == set(), (name, granted)
    admin = _client("admin", personas)
    for name in ("admin:index", "admin:accounts_user_changelist", "admin:audit_auditevent_changelist",
                 "admin:accounts_apiclient_changelist"):
        assert admin.get(reverse(name)).status_code == 200, name


@pytest.mark.parametrize("route", sorted(API_ROUTES))
def test_api_operations_need_a_client_token(route: str, personas: dict[str, User],
                                            partner_client: tuple[ApiClient, str]) -> None:
    method, kwargs = API_ROUTES[route]
    url = reverse(route, kwargs=kwargs)
    for persona in sorted(ALL):
        client = _client(persona, personas)
        response = client.post(url, "{}", content_type="application/json") if method == "POST" else client.get(url)
        assert response.status_code == 401, (persona, response.status_code)
    _, token = partner_client
    with_token = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = (with_token.post(url, "{}", content_type="application/json") if method == "POST"
                else with_token.get(url))
    assert response.status_code not in (401, 403)


def test_police_see_only_illegal_items(login: Any, police: User, make_item: Any, illegal_item: Item) -> None:
    other = make_item()
    client = login(police)
    assert client.get(reverse("assessment:item", kwargs={"pk": other.pk})).status_code == 404
    assert client.get(reverse("assessment:item", kwargs={"pk": illegal_item.pk})).status_code == 200
    listing = client.get(reverse("assessment:items")).content.decode()
    assert illegal_item.canonical_url in listing and other.canonical_url not in listing
