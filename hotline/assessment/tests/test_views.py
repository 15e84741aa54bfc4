from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.assessment.models import Assessment
from hotline.audit.models import AuditEvent
from hotline.reports.models import Item, ItemStatus, Source

# Transactional, like production: a view that writes outside a transaction fails here.
pytestmark = pytest.mark.django_db(transaction=True)
Login = Callable[[User], Client]

CLEAR_FORM = {"verdict": "baseline", "legal_limb": "real_minor", "content_type": "image",
              "age_group": "prepubescent", "gender": "not_determined", "site_type": "image_host",
              "commerciality": "non_commercial"}
BORDERLINE_FORM = {"verdict": "national", "legal_limb": "looks_like_minor", "content_type": "image",
                   "age_group": "pubescent"}


def test_the_queue_lists_items_and_take_next_claims_the_first(
    login: Login, analyst: User, make_item: Callable[..., Item]
) -> None:
    plain = make_item("http://plain.sim.test/")
    urgent = make_item("http://urgent.sim.test/", source=Source.POLICE)
    client = login(analyst)
    page = client.get(reverse("assessment:queue")).content.decode()
    assert page.index("urgent.sim.test") < page.index("plain.sim.test")
    response = client.post(reverse("assessment:next"))
    assert response.headers["Location"] == reverse("assessment:item", kwargs={"pk": urgent.pk})
    assert Item.objects.get(pk=urgent.pk).claimed_by == analyst
    assert Item.objects.get(pk=plain.pk).claimed_by is None


def test_an_analyst_assesses_through_the_form(login: Login, analyst: User, make_item: Callable[..., Item]) -> None:
    item = make_item()
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    page = client.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    assert 'name="verdict"' in page and "Realistic images of a non-existent minor" in page
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), CLEAR_FORM)
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "baseline")
    timeline = client.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    assert "item.claimed" in timeline and "item.assessed" in timeline


def test_an_incomplete_form_is_shown_again_with_field_errors(
    login: Login, analyst: User, make_item: Callable[..., Item]
) -> None:
    item = make_item()
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {"verdict": "baseline"})
    assert response.status_code == 400
    assert "required when the material is illegal" in response.content.decode()
    assert Item.objects.get(pk=item.pk).status == ItemStatus.CAPTURED


def test_a_borderline_verdict_is_reviewed_by_a_senior_in_the_ui(
    login: Login, analyst: User, senior: User, make_item: Callable[..., Item]
) -> None:
    item = make_item()
    first = login(analyst)
    first.post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    first.post(reverse("assessment:assess", kwargs={"pk": item.pk}), BORDERLINE_FORM)
    assert Item.objects.get(pk=item.pk).status == ItemStatus.IN_REVIEW
    reviewer = login(senior)
    queue = reviewer.get(reverse("assessment:queue")).content.decode()
    assert "Second review" in queue and item.canonical_url in queue
    reviewer.post(reverse("assessment:next"))
    form = reviewer.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    # The reviewer starts from the first analyst's answers.
    assert re.search(r'name="legal_limb" value="looks_like_minor" id="[^"]+" checked', form)
    reviewer.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {**BORDERLINE_FORM, "verdict": "not_illegal",
                  "legal_limb": "", "content_type": "", "age_group": "", "reason": "age_over_threshold"})
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "not_illegal")
    assert Assessment.objects.get(is_final=True).disagrees


def test_a_claim_held_by_a_colleague_is_shown_and_refused(
    login: Login, analyst: User, analyst2: User, make_item: Callable[..., Item]
) -> None:
    item = make_item()
    login(analyst).post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    other = login(analyst2)
    page = other.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    assert "Claimed by ana" in page
    response = other.post(reverse("assessment:assess", kwargs={"pk": item.pk}), CLEAR_FORM, follow=True)
    assert "claim the item first" in response.content.decode()
    assert Item.objects.get(pk=item.pk).status == ItemStatus.CAPTURED


def test_skip_hides_the_item_from_take_next_for_that_analyst(
    login: Login, analyst: User, make_item: Callable[..., Item]
) -> None:
    only = make_item()
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": only.pk}))
    client.post(reverse("assessment:release", kwargs={"pk": only.pk}), {"skip": "1"})
    response = client.post(reverse("assessment:next"), follow=True)
    assert "Nothing is waiting for you" in response.content.decode()
    assert AuditEvent.objects.filter(action="item.skipped").count() == 1


def test_the_item_search_filters_by_url_and_status(login: Login, manager: User, make_item: Any) -> None:
    make_item("http://findme.sim.test/a")
    make_item("http://other.sim.test/b")
    page = login(manager).get(reverse("assessment:items"), {"q": "findme"}).content.decode()
    assert "findme.sim.test" in page and "other.sim.test" not in page


def test_the_audit_page_verifies_the_chain(login: Login, admin_user: User, make_item: Any) -> None:
    make_item()
    page = login(admin_user).get(reverse("audit:index"), {"verify": "1"}).content.decode()
    assert 'data-verify="ok"' in page and "item.created" in page


def test_the_audit_page_shows_every_action_by_its_stored_code_and_known_ones_in_words_too(
    login: Any, admin_user: Any, make_item: Any
) -> None:
    make_item()
    page = login(admin_user).get("/fr/audit/").content.decode()
    assert "<code>item.created</code> <span class=\"help\">a créé l&#x27;élément" in page
    assert "<code>report.received</code></td>" in page
