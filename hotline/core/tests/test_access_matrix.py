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
    "assessment:retry_capture": ("POST", ASSESSORS),
    "assessment:assess_unavailable": ("POST", ASSESSORS),
    "assessment:bulk_unavailable": ("POST", ASSESSORS),
    "audit:index": ("GET", {"admin", "manager"}),
    "evidence:thumbnail": ("GET", ASSESSORS),
    "evidence:revealed": ("GET", set()),  # only after a reveal: see evidence/tests/test_viewing.py
    "evidence:reveal": ("POST", ASSESSORS),
    "evidence:heartbeat": ("POST", ASSESSORS),
    "evidence:screenshot": ("GET", ASSESSORS),  # pk = a capture with a screenshot
    "evidence:screenshot_revealed": ("GET", set()),  # only after a reveal: see evidence/tests/test_screenshot.py
    "evidence:screenshot_reveal": ("POST", ASSESSORS),
    "evidence:exposure": ("GET", {"manager"}),
    "iccam:errors": ("GET", {"manager", "admin"}),
    "hashes:banks": ("GET", {"senior_analyst", "manager"}),
    "hashes:bank": ("GET", {"senior_analyst", "manager"}),
    "hashes:disable": ("POST", {"senior_analyst", "manager"}),
    "hashes:demote": ("POST", {"manager"}),
    "hashes:vote": ("POST", ASSESSORS),
    "hashes:confirm_quarantined": ("POST", {"senior_analyst"}),
    "hashes:quarantines": ("GET", {"senior_analyst", "manager"}),
    "hashes:health": ("GET", {"senior_analyst", "manager"}),
    "hashes:health_csv": ("GET", {"senior_analyst", "manager"}),
    "hashes:media": ("GET", {"analyst", "senior_analyst", "manager"}),
    "hashes:pending": ("GET", ASSESSORS),
    "hashes:confirm": ("POST", ASSESSORS),
    "hashes:overrule": ("POST", ASSESSORS),
    # tracing routes
    "tracing:providers": ("GET", {"analyst", "senior_analyst", "manager", "admin"}),
    "tracing:provider_new": ("GET", {"manager", "admin"}),
    "tracing:import": ("GET", {"manager", "admin"}),
    "tracing:provider": ("GET", {"analyst", "senior_analyst", "manager", "admin"}),
    "tracing:provider_edit": ("GET", {"manager", "admin"}),
    "tracing:item": ("GET", READERS),
    "tracing:origin": ("POST", ASSESSORS),
    "tracing:retrace": ("POST", ASSESSORS),
    # partners routes
    "partners:directory": ("GET", STAFF - {OUTSIDER}),
    "partners:hotline_form": ("GET", {"manager", "admin"}),
    "partners:police_form": ("GET", {"manager", "admin"}),
    "partners:import": ("GET", {"manager", "admin"}),
    "partners:forwards": ("GET", READERS),
    "partners:item_forwards": ("GET", READERS),  # pk = an item; the police liaison sees illegal items only
    "partners:inbound": ("GET", {"manager", "admin"}),
    "partners:retry": ("POST", {"manager", "admin"}),
    # routing routes
    "routing:attention": ("GET", {"analyst", "senior_analyst", "manager"}),
    "routing:item": ("GET", READERS),
    "routing:referrals": ("GET", {"senior_analyst", "police_liaison", "manager"}),
    "routing:referral": ("GET", {"senior_analyst", "police_liaison", "manager"}),
    "routing:answer": ("POST", {"police_liaison"}),
    "routing:package": ("POST", {"police_liaison", "manager"}),
    "routing:item_package": ("POST", {"police_liaison", "manager"}),
    # takedown routes
    "takedown:notices": ("GET", {"analyst", "senior_analyst", "manager"}),
    "takedown:notice": ("GET", {"analyst", "senior_analyst", "manager"}),
    "takedown:item": ("GET", READERS),  # pk = an item; the police liaison sees illegal items only
    "takedown:scorecards": ("GET", {"analyst", "senior_analyst", "manager"}),
    "takedown:scorecards_csv": ("GET", {"senior_analyst", "manager"}),
    "takedown:non_responders": ("GET", {"analyst", "senior_analyst", "manager"}),
    "takedown:requests": ("GET", READERS),
    "takedown:request_new": ("GET", {"senior_analyst", "manager", "police_liaison"}),
    "takedown:request": ("GET", READERS),
    "takedown:request_answer": ("POST", {"senior_analyst", "manager", "police_liaison"}),
    "takedown:respond": ("GET", ALL),  # public: the signed token is the credential (takedown/tests/test_respond.py)
    # mailintake routes
    "mailintake:mails": ("GET", {"manager", "senior_analyst"}),
    "mailintake:mail": ("GET", {"manager", "senior_analyst"}),
    "mailintake:mail_text": ("POST", {"manager", "senior_analyst"}),
    "mailintake:senders": ("GET", {"manager", "admin"}),
    "mailintake:sender_new": ("GET", {"manager", "admin"}),
    "mailintake:sender_edit": ("GET", {"manager", "admin"}),
    "mailintake:sender_token": ("POST", {"manager", "admin"}),
    # cases routes
    "cases:list": ("GET", READERS),
    "cases:new": ("GET", {"analyst", "senior_analyst", "manager"}),
    "cases:import": ("GET", {"police_liaison"}),
    "cases:detail": ("GET", READERS),  # pk = a case holding an illegal item (the police see only such cases)
    "cases:add_items": ("POST", {"analyst", "senior_analyst", "manager"}),
    "cases:remove_item": ("POST", {"analyst", "senior_analyst", "manager"}),
    "cases:close": ("POST", {"analyst", "senior_analyst", "manager"}),
    "cases:reopen": ("POST", {"analyst", "senior_analyst", "manager"}),
    "cases:refer": ("POST", {"senior_analyst", "manager"}),
    "cases:outcome": ("POST", {"police_liaison"}),
    # reports without a URL: the public form, and the support queue for analysts and the police liaison
    "incidents:report": ("GET", ALL),
    "incidents:queue": ("GET", ASSESSORS | {"police_liaison"}),
    "incidents:detail": ("GET", ASSESSORS | {"police_liaison"}),
    "incidents:take": ("POST", ASSESSORS | {"police_liaison"}),
    "incidents:refer": ("POST", ASSESSORS | {"police_liaison"}),
    "incidents:close": ("POST", ASSESSORS | {"police_liaison"}),
    "incidents:annotate": ("POST", ASSESSORS | {"police_liaison"}),
    "incidents:screenshot": ("GET", ASSESSORS | {"police_liaison"}),  # position 0 of an incident
    # retention routes
    # stats routes
    "stats:dashboard": ("GET", {"manager"}),  # per-analyst workload inside: managers only, not admins
    "stats:annual": ("GET", {"manager"}),
    "stats:transparency": ("GET", {"manager"}),
    "retention:plan": ("GET", {"admin", "manager"}),
    "retention:holds": ("GET", {"police_liaison", "admin", "manager"}),
    "retention:place": ("POST", {"police_liaison", "admin"}),
    "retention:release": ("POST", {"police_liaison", "admin"}),
    # selfreferral routes
    "selfreferral:start": ("GET", ALL),
    "selfreferral:status": ("GET", ALL),
    "selfreferral:withdraw": ("POST", set()),  # the code is the credential: without one, 404 for all
    "selfreferral:queue": ("GET", ASSESSORS),
    "selfreferral:confirm": ("POST", ASSESSORS),  # pk = a referral awaiting confirmation
    "selfreferral:reject": ("POST", ASSESSORS),
    # accounts routes
    "accounts:verify": ("GET", STAFF),
    "accounts:enrol": ("GET", STAFF),
    "accounts:reauth": ("GET", STAFF),
    "accounts:security": ("GET", STAFF),
    "accounts:recovery_codes": ("POST", STAFF),
    "accounts:admin_users": ("GET", {"admin"}),
    "accounts:admin_user_new": ("GET", {"admin"}),
    "accounts:admin_user": ("GET", {"admin"}),  # pk = another user
    "accounts:admin_user_role": ("POST", {"admin"}),
    "accounts:admin_user_deactivate": ("POST", {"admin"}),
    "accounts:admin_user_reactivate": ("POST", {"admin"}),
    "accounts:admin_user_reset_second_factor": ("POST", {"admin"}),
    "accounts:admin_user_unlock": ("POST", {"admin"}),
    "accounts:admin_api_clients": ("GET", {"admin"}),
    "accounts:admin_api_client_new": ("POST", {"admin"}),
    "accounts:admin_api_client_revoke": ("POST", {"admin"}),  # pk = an API client
}
# Whole namespaces with one rule.
NAMESPACES: dict[str, set[str]] = {"admin": set()}  # superusers only: test_djangos_admin_is_for_superusers_only
# API operations: only a bearer token of an active client opens them; sessions do not.
API_ROUTES = {
    "api:submit": ("POST", {}),
    "api:get_submission": ("GET", {"submission_id": "s1"}),
    "api:report_status": ("GET", {"reference": "HL-0000-0000-0000"}),
    "api:lookup_hashes": ("POST", {}),
    "api:match_file": ("POST", {}),
}
API_PUBLIC = {"api:openapi-json", "api:openapi-view", "api:api-root"}
# The partner exchange authenticates each message by its Ed25519 signature against the directory, not
# by a bearer token (unsigned 401, unknown sender 403: partners/tests/test_receive.py); the identity
# page shows only our code and public key.
API_PUBLIC |= {"api:exchange_receive", "api:exchange_identity"}
# A provider's signed link in JSON form: the token is the credential (takedown/tests/test_respond.py).
API_PUBLIC |= {"api:takedown_respond"}


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
    targets = {"hashes:bank": bank.pk, "hashes:disable": entry.pk, "hashes:confirm": item.pk,
               "hashes:demote": bank.pk, "hashes:vote": entry.pk, "hashes:confirm_quarantined": entry.pk}
    return targets.get(route) or make_media(item).pk


def _provider() -> Any:
    from hotline.tracing.models import Provider

    return Provider.objects.create(name="Matrix hosting")


def _routing_object(route: str, item: Item, make_media: Any) -> int:
    """Referral routes take a referral; the others an item."""
    if not route.startswith("routing:referral") and route not in ("routing:answer", "routing:package"):
        return item.pk
    from django.utils import timezone

    from hotline.audit.services import SYSTEM
    from hotline.partners.models import PoliceContact
    from hotline.routing.services import refer_items

    police = PoliceContact.objects.create(name="Unit", country="BE", kind="national", email="unit@police.example")
    return refer_items([item], police, actor=SYSTEM, now=timezone.now()).pk


def _cases_object(route: str, item: Item, make_media: Any) -> int:
    """Case routes take a case: one holding the illegal item."""
    from django.utils import timezone

    from hotline.audit.services import SYSTEM
    from hotline.cases.services import open_case

    return open_case(f"case for {route}", "same_site", [item], actor=SYSTEM, now=timezone.now()).pk


def _screenshot_object(item: Item, make_media: Any) -> int:
    """Screenshot routes take a capture that has a screenshot (a generated pattern stands in)."""
    media = make_media(item)
    capture = media.capture
    capture.screenshot = media.blob
    capture.save(update_fields=["screenshot"])
    return int(capture.pk)


# domain -> the object (pk) its routes take, when it is not an item. Add your domain's factory here.
OBJECT_FACTORIES: dict[str, Callable[[str, Item, Any], int]] = {
    "evidence": lambda route, item, make_media: (
        _screenshot_object(item, make_media) if route.startswith("evidence:screenshot") else make_media(item).pk),
    "hashes": _bank_object,
    "routing": _routing_object,
    "tracing": lambda route, item, make_media: (
        _provider().pk if route in ("tracing:provider", "tracing:provider_edit") else item.pk),
    # tracing objects
    # partners objects
    # takedown objects
    "takedown": lambda route, item, make_media: __import__(
        "hotline.takedown.tests.factories", fromlist=["access_object"]).access_object(route, item),
    # mailintake objects
    "mailintake": lambda route, item, make_media: __import__(
        "hotline.mailintake.tests.factories", fromlist=["access_object"]).access_object(route),
    # cases objects
    "cases": _cases_object,
    # retention objects
    # stats objects
    "retention": lambda route, item, make_media: __import__(
        "hotline.retention.tests.factories", fromlist=["access_object"]).access_object(route, item),
    # accounts objects
    "selfreferral": lambda route, item, make_media: __import__(
        "hotline.selfreferral.tests.factories", fromlist=["access_object"]).access_object(route),
    "incidents": lambda route, item, make_media: _incident_object(),
    "accounts": lambda route, item, make_media: _accounts_object(route),
}


def _incident_object() -> int:
    """Incident routes take a report without a URL (with one generated screenshot)."""
    from hotline.assessment.services.incidents import IncomingIncident, receive_incident
    from hotline.audit.services import SYSTEM
    from hotline.sim.images import make_image

    report = receive_incident(IncomingIncident(kind="sextortion", description="matrix",
                                               screenshots=[make_image("png", 1, size=(64, 64))]), actor=SYSTEM)
    return int(report.incident.pk)


def _accounts_object(route: str) -> int:
    """Administration routes take another user, or an API client."""
    from hotline.accounts.services import issue_api_client
    from hotline.audit.services import SYSTEM

    if route == "accounts:admin_api_client_revoke":
        return issue_api_client("Matrix client", "industry", actor=SYSTEM)[0].pk
    return User.objects.create_user("matrix-target", password=None, role="analyst").pk


def _client(persona: str, personas: dict[str, User]) -> Client:
    from hotline.accounts.session import mark_second_factor_done

    client = Client()
    if persona != ANON:
        client.force_login(personas[persona])
        session = client.session
        mark_second_factor_done(session)
        session.save()
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
    if "position" in pattern.pattern.converters:
        kwargs["position"] = 0
    url = reverse(route, kwargs=kwargs)
    outcome = {}
    for persona in sorted(ALL):
        client = _client(persona, personas)
        response = client.post(url) if method == "POST" else client.get(url)
        outcome[persona] = _allowed(response)
    assert {p for p, ok in outcome.items() if ok} == allowed


def test_djangos_admin_is_for_superusers_only(personas: dict[str, User]) -> None:
    """The administrator role works on the product's own pages; Django's admin is for superusers (break-glass)."""
    simple = [name for name, p in all_routes().items()
              if name.startswith("admin:") and not p.pattern.converters and "<" not in str(p.pattern)]
    assert "admin:index" in simple and "admin:accounts_user_changelist" in simple
    for name in simple:
        if name in ("admin:logout", "admin:login"):
            continue
        url = reverse(name)
        granted = {persona for persona in ALL if _allowed(_client(persona, personas).get(url))}
        assert granted == set(), (name, granted)
    User.objects.filter(pk=personas["admin"].pk).update(is_staff=True, is_superuser=True)
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


# Legal holds follow object access: every hold route x every persona x objects of every visibility.
# An object a persona may not see behaves exactly like one that does not exist.
HOLD_OBJECTS = ("illegal_item", "hidden_item", "illegal_case", "hidden_case")
HOLDERS = {"police_liaison", "admin"}
SEES_HOLDS_ON: dict[str, set[str]] = {
    "admin": set(HOLD_OBJECTS),  # docs/retention.md: administrators hold any item or case
    "manager": set(HOLD_OBJECTS),  # reads every hold (and sees every item and case anyway)
    "police_liaison": {"illegal_item", "illegal_case"},  # what was found illegal, nothing else
}
MISSING = 999_999


@pytest.fixture
def hold_objects(illegal_item: Item, make_item: Any) -> dict[str, tuple[str, int]]:
    """name -> (held object type, pk): an item and a case of each visibility to the police liaison."""
    from django.utils import timezone

    from hotline.audit.services import SYSTEM
    from hotline.cases.services import open_case

    hidden_item = make_item()  # not assessed: invisible to the police liaison
    now = timezone.now()
    return {
        "illegal_item": ("item", illegal_item.pk),
        "hidden_item": ("item", hidden_item.pk),
        "illegal_case": ("case", open_case("Holds illegal", "same_site", [illegal_item], actor=SYSTEM, now=now).pk),
        "hidden_case": ("case", open_case("Holds hidden", "same_site", [hidden_item], actor=SYSTEM, now=now).pk),
    }


def _flash(response: Any) -> list[str]:
    from django.contrib.messages import get_messages

    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("name", HOLD_OBJECTS)
def test_holds_are_placed_only_on_objects_the_persona_may_see(
        name: str, personas: dict[str, User], hold_objects: dict[str, tuple[str, int]]) -> None:
    import re

    from hotline.retention.models import Hold

    object_type, pk = hold_objects[name]
    placed = set()
    for persona in sorted(ALL):
        client = _client(persona, personas)
        data = {"object_type": object_type, "object_id": pk, "reason": f"matrix {persona}"}
        response = client.post(reverse("retention:place"), data)
        if Hold.objects.filter(reason=f"matrix {persona}", object_type=object_type, object_id=pk).exists():
            placed.add(persona)
        elif persona in HOLDERS:
            # Refused exactly as for an object that does not exist: same message, the number aside.
            missing = _client(persona, personas).post(reverse("retention:place"), {**data, "object_id": MISSING})
            said = [re.sub(r"\d+", "N", m) for m in _flash(response)]
            assert said and said == [re.sub(r"\d+", "N", m) for m in _flash(missing)], persona
            assert response.status_code == missing.status_code == 302
    assert placed == {p for p in HOLDERS if name in SEES_HOLDS_ON[p]}


@pytest.mark.parametrize("name", HOLD_OBJECTS)
def test_hold_reasons_are_read_only_on_objects_the_persona_may_see(
        name: str, personas: dict[str, User], hold_objects: dict[str, tuple[str, int]]) -> None:
    from hotline.retention.services import place_hold, release_hold

    object_type, pk = hold_objects[name]
    active = place_hold(object_type, pk, reason=f"active reason {name}", user=personas["admin"])
    released = place_hold(object_type, pk, reason=f"released reason {name}", user=personas["admin"])
    release_hold(released, user=personas["admin"], reason=f"release reason {name}")
    readers = set()
    for persona in sorted(ALL):
        client = _client(persona, personas)
        pages = [client.get(reverse("retention:holds")), client.get(reverse("retention:holds") + "?show=all")]
        shown = [p.content.decode() for p in pages if p.status_code == 200]
        texts = [f"active reason {name}", f"released reason {name}", f"release reason {name}",
                 reverse("retention:release", kwargs={"pk": active.pk})]
        if shown and all(t in "".join(shown) for t in texts[:3]):
            readers.add(persona)
        else:
            assert not any(t in page for t in texts for page in shown), persona
    assert readers == {p for p, sees in SEES_HOLDS_ON.items() if name in sees}


@pytest.mark.parametrize("name", HOLD_OBJECTS)
def test_holds_are_released_only_on_objects_the_persona_may_see(
        name: str, personas: dict[str, User], hold_objects: dict[str, tuple[str, int]]) -> None:
    from hotline.retention.services import place_hold

    object_type, pk = hold_objects[name]
    released = set()
    for persona in sorted(ALL):
        hold = place_hold(object_type, pk, reason=f"to release by {persona}", user=personas["admin"])
        client = _client(persona, personas)
        response = client.post(reverse("retention:release", kwargs={"pk": hold.pk}), {"reason": "done"})
        hold.refresh_from_db()
        if not hold.is_active:
            released.add(persona)
        elif persona in HOLDERS:
            # Invisible is missing: the same 404 as a hold number that does not exist.
            missing = client.post(reverse("retention:release", kwargs={"pk": MISSING}), {"reason": "done"})
            assert response.status_code == missing.status_code == 404, persona
    assert released == {p for p in HOLDERS if name in SEES_HOLDS_ON[p]}
