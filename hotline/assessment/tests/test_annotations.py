"""CyberTipline annotations: set on the workbench per report and per file, carried in the police referral's
summary and in the partner exchange's forward (an optional, additive field). Every file is a generated pattern."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hotline.accounts.models import User
from hotline.assessment.annotations import item_annotations
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.evidence.models import Media
from hotline.partners import protocol
from hotline.partners.services import forward_body
from hotline.reports.models import Item, ItemStatus
from hotline.routing.models import Referral
from hotline.routing.services import summary

pytestmark = pytest.mark.django_db
BASELINE = {"verdict": "baseline", "legal_limb": "real_minor", "content_type": "image",
            "age_group": "prepubescent", "gender": "female"}


def _assessed_with_annotations(login: Callable[[User], Client], analyst: User, item: Item,
                               one: Media, two: Media) -> Client:
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    page = client.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    # The workbench offers the report annotations once and the file annotations on each file.
    assert 'name="ann_sextortion"' in page and f'name="m{one.pk}-ann_generative_ai"' in page
    assert 'name="ann_generative_ai"' not in page  # per file when the page has files
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {
        **{f"m{one.pk}-{k}": v for k, v in BASELINE.items()}, f"m{one.pk}-ann_generative_ai": "on",
        f"m{one.pk}-ann_viral": "on",
        **{f"m{two.pk}-{k}": v for k, v in BASELINE.items()}, f"m{two.pk}-ann_live_streaming": "on",
        "site_type": "image_host", "ann_solicitation": "on", "ann_minor_to_minor": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    return client


def test_annotations_are_recorded_per_report_and_per_file_from_the_workbench(
        login: Callable[[User], Client], analyst: User, make_item: Callable[..., Item], make_media: Any) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    _assessed_with_annotations(login, analyst, item, one, two)
    item.refresh_from_db()
    assert (item.status, item.verdict) == (ItemStatus.ASSESSED, "baseline")
    final = Assessment.objects.get(item=item, is_final=True)
    assert (final.ann_solicitation, final.ann_minor_to_minor, final.ann_sextortion) == (True, True, False)
    # The item carries a file annotation when any of its files does.
    assert (final.ann_generative_ai, final.ann_viral, final.ann_live_streaming, final.ann_self_production) == (
        True, True, True, False)
    rows = {r.media_id: r for r in MediaAssessment.objects.filter(assessment=final)}
    assert (rows[one.pk].ann_generative_ai, rows[one.pk].ann_viral, rows[one.pk].ann_live_streaming) == (
        True, True, False)
    assert (rows[two.pk].ann_generative_ai, rows[two.pk].ann_live_streaming) == (False, True)
    assert item_annotations(item) == {
        "scheme": "cybertipline", "report": ["solicitation", "minor_to_minor"],
        "file": ["generative_ai", "viral", "live_streaming"],
        "files": [{"sha256": one.sha256, "annotations": ["generative_ai", "viral"]},
                  {"sha256": two.sha256, "annotations": ["live_streaming"]}]}


def test_annotations_travel_in_the_police_referral_summary(
        login: Callable[[User], Client], analyst: User, make_item: Callable[..., Item], make_media: Any,
        settings: Any) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    _assessed_with_annotations(login, analyst, item, one, two)
    from hotline.partners.models import PoliceContact

    police = PoliceContact.objects.create(name="Police test unit", country="BE", kind=PoliceContact.Kind.values[0],
                                          email="unit@police.example.test")
    now = timezone.now()
    referral = Referral.objects.create(key=uuid.uuid4(), police=police, created_at=now, next_attempt_at=now,
                                       hold_until=now + timedelta(hours=48))
    referral.items.add(item)
    entry = summary(referral)["items"][0]
    assert entry["annotations"]["report"] == ["solicitation", "minor_to_minor"]
    assert {f["sha256"]: f["annotations"] for f in entry["annotations"]["files"]} == {
        one.sha256: ["generative_ai", "viral"], two.sha256: ["live_streaming"]}


def test_annotations_travel_in_the_exchange_forward_and_pass_the_strict_schema(
        login: Callable[[User], Client], analyst: User, make_item: Callable[..., Item], make_media: Any) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    _assessed_with_annotations(login, analyst, item, one, two)
    body = forward_body(item, trace=None, reference="HL-TEST")
    assert body["annotations"] == ["solicitation", "minor_to_minor", "generative_ai", "viral", "live_streaming"]
    assert {m["sha256"]: m.get("annotations") for m in body["media"]} == {
        one.sha256: ["generative_ai", "viral"], two.sha256: ["live_streaming"]}
    # A signed message round trip: built, sealed, read back and checked by the receiving side's parser.
    now = timezone.now()
    key = Ed25519PrivateKey.generate()
    message = protocol.make_message("forward", sender="be-test", recipient="nl-test", body=body,
                                    created_at=now, sent_at=now)
    wire = protocol.seal(message, key)
    signed = protocol.parse_wire(protocol.wire_bytes(wire), max_bytes=1 << 20)
    assert protocol.is_authentic(signed, key.public_key())
    parsed = protocol.parse_body("forward", protocol.parse_envelope(signed.message).body)
    assert parsed.annotations == body["annotations"]
    assert [m.annotations for m in parsed.media] == [["generative_ai", "viral"], ["live_streaming"]]


def test_without_annotations_the_forward_is_what_it_was() -> None:
    body = {"url": "http://x.sim.test/", "reference": "r", "media": [{"sha256": "a" * 64}]}
    parsed = protocol.parse_body("forward", body)
    assert parsed.annotations is None and parsed.media[0].annotations is None
    for bad in ({**body, "annotations": ["Not A Code"]}, {**body, "annotations": "sextortion"},
                {**body, "annotations": ["x"] * 21}):
        with pytest.raises(protocol.ProtocolError):
            protocol.parse_body("forward", bad)


def test_an_item_without_a_final_assessment_has_no_annotations(make_item: Callable[..., Item]) -> None:
    assert item_annotations(make_item()) == {"scheme": "cybertipline", "report": [], "file": [], "files": []}


def test_a_page_without_files_records_file_annotations_on_the_page(
        login: Callable[[User], Client], analyst: User, make_item: Callable[..., Item]) -> None:
    item = make_item()
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {
        "verdict": "other_harm", "other_harm": "sextortion", "ann_sextortion": "on", "ann_self_production": "on"})
    assert response.status_code == 302
    final = Assessment.objects.get(item=item)
    assert (final.ann_sextortion, final.ann_self_production) == (True, True)
    assert item_annotations(item)["report"] == ["sextortion"]
    assert item_annotations(item)["file"] == ["self_production"]


def test_self_generated_and_self_production_are_one_tick_for_illegal_files(
        login: Callable[[User], Client], analyst: User, make_item: Callable[..., Item], make_media: Any) -> None:
    item = make_item()
    one, two = make_media(item, seed=2), make_media(item, seed=5)
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    page = client.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    # A file's card offers the categorisation flag, not a second tick for the same fact.
    assert f'name="m{one.pk}-is_self_generated"' in page
    assert f'name="m{one.pk}-ann_self_production"' not in page
    response = client.post(reverse("assessment:assess", kwargs={"pk": item.pk}), {
        **{f"m{one.pk}-{k}": v for k, v in BASELINE.items()}, f"m{one.pk}-is_self_generated": "on",
        **{f"m{two.pk}-{k}": v for k, v in BASELINE.items()}})
    assert response.status_code == 302, response.content.decode()[:3000]
    final = Assessment.objects.get(item=item, is_final=True)
    rows = {r.media_id: r for r in MediaAssessment.objects.filter(assessment=final)}
    assert (rows[one.pk].is_self_generated, rows[one.pk].ann_self_production) == (True, True)
    assert (rows[two.pk].is_self_generated, rows[two.pk].ann_self_production) == (False, False)
    assert (final.is_self_generated, final.ann_self_production) == (True, True)
    assert item_annotations(item)["files"] == [{"sha256": one.sha256, "annotations": ["self_production"]}]


def test_either_of_the_two_sets_both_for_illegal_material_only() -> None:
    from hotline.assessment.services import AssessmentData, MediaData

    given = AssessmentData(verdict="national", ann_self_production=True)
    assert (given.is_self_generated, given.ann_self_production) == (True, True)
    flagged = MediaData(1, "baseline", is_self_generated=True)
    assert flagged.ann_self_production is True
    # A sextortion page has no categorisation: the annotation stands alone.
    harm = AssessmentData(verdict="other_harm", other_harm="sextortion", ann_self_production=True)
    assert (harm.is_self_generated, harm.ann_self_production) == (False, True)


def test_several_items_read_together_say_what_each_says_alone(
        login: Callable[[User], Client], analyst: User, make_item: Callable[..., Item], make_media: Any,
        django_assert_max_num_queries: Any) -> None:
    from hotline.assessment.annotations import items_annotations

    with_files, page, unassessed, kept = make_item(), make_item(), make_item(), make_item()
    one, two = make_media(with_files, seed=2), make_media(with_files, seed=5)
    _assessed_with_annotations(login, analyst, with_files, one, two)
    three, four = make_media(kept, seed=7), make_media(kept, seed=9)
    _assessed_with_annotations(login, analyst, kept, three, four)
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": page.pk}))
    client.post(reverse("assessment:assess", kwargs={"pk": page.pk}), {
        "verdict": "other_harm", "other_harm": "sextortion", "ann_sextortion": "on"})
    # an earlier assessment that is no longer final says nothing
    Assessment.objects.filter(item=with_files).update(is_final=False)
    Assessment.objects.create(item=with_files, analyst=analyst, created_at=timezone.now(), is_final=True,
                              verdict="baseline", ann_viral=True)
    ids = [unassessed.pk, with_files.pk, kept.pk, page.pk]
    with django_assert_max_num_queries(2):
        together = items_annotations(ids)
    assert list(together) == ids
    assert together == {pk: item_annotations(Item.objects.get(pk=pk)) for pk in ids}
    assert together[with_files.pk] == {"scheme": "cybertipline", "report": [], "file": ["viral"], "files": []}
    assert together[kept.pk]["files"] == [{"sha256": three.sha256, "annotations": ["generative_ai", "viral"]},
                                          {"sha256": four.sha256, "annotations": ["live_streaming"]}]
    assert together[page.pk]["report"] == ["sextortion"]
    assert together[unassessed.pk]["report"] == []
    assert items_annotations([]) == {}
    alone = item_annotations(unassessed)
    with django_assert_max_num_queries(1):  # none assessed: no file to read
        assert items_annotations([unassessed.pk]) == {unassessed.pk: alone}
