"""The workbench page: context on one screen, per-file forms, errors beside their field, labels."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.assessment.models import MediaAssessment
from hotline.reports.models import Item, ItemStatus, Report

pytestmark = pytest.mark.django_db
Login = Callable[[User], Client]


def _claimed(client: Client, item: Item) -> None:
    client.post(reverse("assessment:claim", kwargs={"pk": item.pk}))


def _field_block(page: str, name: str) -> str:
    """The HTML of the field wrapper holding input ``name`` (its errors sit inside it)."""
    for block in re.findall(r'<div class="field[^"]*"[^>]*>.*?</div>(?:<ul class="errorlist".*?</ul>)?</div>', page,
                            re.S):
        if f'name="{name}"' in block:
            return str(block)
    return ""


def test_it_shows_the_reporters_text_escaped_with_source_and_language(
    login: Login, analyst: User, make_item: Callable[..., Item]
) -> None:
    item = make_item()
    Report.objects.filter(items=item).update(language="fr", text='<script>alert(1)</script>\n<img src=x onerror=y>')
    page = login(analyst).get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>&lt;img src=x onerror=y&gt;" in page
    assert "<script>alert" not in page and "FR" in page and "Public" in page


def test_it_puts_each_error_beside_its_own_field(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    client = login(analyst)
    _claimed(client, item)
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {
        f"m{one.pk}-verdict": "baseline", f"m{one.pk}-legal_limb": "real_minor",
        f"m{two.pk}-verdict": "not_illegal", f"m{two.pk}-reason": "site_down"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "required when the material is illegal" in _field_block(page, f"m{one.pk}-age_group")
    assert "errorlist" not in _field_block(page, f"m{one.pk}-legal_limb")
    assert "errorlist" in _field_block(page, f"m{two.pk}-reason")  # an unavailable reason is not a choice here
    assert Item.objects.get(pk=item.pk).status == ItemStatus.CAPTURED


def test_a_missing_file_verdict_is_marked_on_that_file(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    client = login(analyst)
    _claimed(client, item)
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {
        f"m{one.pk}-verdict": "not_illegal", f"m{one.pk}-reason": "adult_pornography"})
    assert response.status_code == 400
    assert "classify every image and video" in _field_block(response.content.decode(), f"m{two.pk}-verdict")


def test_a_reason_of_another_verdict_is_refused_on_the_reason_field(
    login: Login, analyst: User, make_item: Callable[..., Item]
) -> None:
    item = make_item()
    client = login(analyst)
    _claimed(client, item)
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}),
                           {"verdict": "not_illegal", "reason": "site_down"})
    assert response.status_code == 400
    assert "use &#x27;unreachable&#x27;" in _field_block(response.content.decode(), "reason")


def test_save_and_next_opens_the_next_item(
    login: Login, analyst: User, make_item: Callable[..., Item], make_media: Any
) -> None:
    item, following = make_item(), make_item()
    media = make_media(item, seed=2)
    client = login(analyst)
    _claimed(client, item)
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {
        f"m{media.pk}-verdict": "not_illegal", f"m{media.pk}-reason": "nudism", "next": "1"})
    assert response.headers["Location"] == reverse("assessment:item", kwargs={"pk": following.pk})
    assert MediaAssessment.objects.get(media=media).reason == "nudism"
    assert Item.objects.get(pk=following.pk).claimed_by == analyst


def test_the_reviewer_sees_the_notes_and_why_a_review_was_asked(
    login: Login, analyst: User, analyst2: User, senior: User, make_item: Callable[..., Item]
) -> None:
    item = make_item()
    first = login(analyst)
    _claimed(first, item)
    first.post(reverse("assessment:assess", kwargs={"pk": item.pk}),
               {"verdict": "not_illegal", "reason": "adult_pornography", "notes": "Looks adult <b>to me</b>"})
    login(analyst2).post(reverse("assessment:request_review", kwargs={"pk": item.pk}),
                         {"reason": "The person may be a minor"})
    reviewer = login(senior)
    _claimed(reviewer, item)
    page = reviewer.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    assert "Looks adult &lt;b&gt;to me&lt;/b&gt;" in page and "The person may be a minor" in page
    assert "Why a review was asked for" in page


@pytest.mark.parametrize(("prefix", "words", "raw"), [
    ("/nl", ["Niet illegaal", "Pornografie met volwassenen", "beoordeelde het item"], "not_illegal"),
    ("/fr", ["Pas illégal", "Pornographie adulte", "a évalué l&#x27;élément"], "not_illegal"),
    ("", ["Not illegal", "Adult pornography", "assessed the item"], "item.assessed</"),
])
def test_stored_codes_are_shown_as_translated_labels(
    login: Login, analyst: User, make_item: Callable[..., Item], prefix: str, words: list[str], raw: str
) -> None:
    item = make_item()
    client = login(analyst)
    _claimed(client, item)
    client.post(reverse("assessment:assess", kwargs={"pk": item.pk}),
                {"verdict": "not_illegal", "reason": "adult_pornography"})
    page = client.get(f"{prefix}/items/{item.pk}/").content.decode()
    visible = re.sub(r"<[^>]+>", " ", page)
    for word in words:
        assert word in page, word
    assert raw not in visible and "item.assessed" not in visible and "baseline" not in visible.lower().split()


@pytest.mark.parametrize(("prefix", "system", "partner"), [
    ("", "the system created the item", "partner hotline nl-sim"),
    ("/nl", "het systeem", "partnermeldpunt nl-sim"),
    ("/fr", "le système", "la hotline partenaire nl-sim"),
])
def test_the_timeline_names_who_acted_in_words_not_audit_labels(
    login: Login, analyst: User, make_item: Callable[..., Item], prefix: str, system: str, partner: str
) -> None:
    from hotline.audit.services import Actor, record

    item = make_item()
    record(Actor(label="partner:nl-sim"), "item.report_added", ("reports.item", item.pk))
    client = login(analyst)
    _claimed(client, item)
    timeline = client.get(f"{prefix}/items/{item.pk}/").content.decode().split('class="timeline"')[1]
    assert system in timeline and partner in timeline and analyst.username in timeline
    assert "user:" not in timeline and "partner:" not in timeline and "· system " not in timeline
