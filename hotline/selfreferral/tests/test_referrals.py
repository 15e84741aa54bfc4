"""Self-referrals on the server: strict parsing, four eyes, matching past and future captures
(exact, PDQ, video frames), the public status, the match API, withdrawal, the e-mail at rest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from hotline.accounts.models import ApiClient, User
from hotline.audit.models import AuditEvent
from hotline.evidence.models import Media
from hotline.hashes.models import Entry, EntryStatus, MediaMatch
from hotline.hashes.steps import match_step
from hotline.lib import pdq
from hotline.reports.models import Item
from hotline.selfreferral import services, steps
from hotline.selfreferral.models import BANK_NAME, Referral, ReferralStatus, normalize_code
from hotline.sim.images import make_image
from hotline.takedown.models import Takedown, TakedownState

pytestmark = pytest.mark.django_db
MakeMedia = Callable[..., Media]


def _image(seed: int) -> tuple[bytes, dict[str, Any]]:
    """A generated picture (seed % 3: 1 shapes, 2 noise; 0 is a plain gradient, whose PDQ is left out)."""
    data = make_image("png", seed, size=(320, 240))
    hashed = pdq.hash_image_bytes(data)
    return data, {"kind": "image", "sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest(),  # noqa: S324
                  "pdq": hashed.hex, "quality": hashed.quality}


def _flip(hex_: str, bits: int) -> str:
    value = int(hex_, 16)
    for k in range(bits):
        value ^= 1 << (6 * k)
    return f"{value:064x}"


def _confirmed(files: list[dict[str, Any]], first: User, second: User) -> tuple[Referral, str]:
    referral, code = services.submit_referral(services.parse_submission(json.dumps(files)))
    services.confirm_referral(referral, user=first)
    services.confirm_referral(referral, user=second)
    referral.refresh_from_db()
    return referral, code


def _run_scans() -> None:
    while steps.scan_step(now=timezone.now(), chunk=2):
        if not Referral.objects.scan_due(timezone.now()).exists():
            break


@pytest.mark.parametrize(("raw", "message"), [
    ("not json", "not valid JSON"),
    ("[]", "at least one"),
    (json.dumps([{"kind": "pdf", "sha256": "a" * 64, "md5": "b" * 32}]), "file 1: kind"),
    (json.dumps([{"kind": "image", "sha256": "a" * 63, "md5": "b" * 32}]), "file 1: sha256"),
    (json.dumps([{"kind": "image", "sha256": "a" * 64, "md5": "b" * 32, "pdq": "c" * 64, "quality": 101}]),
     "file 1: quality"),
    (json.dumps([{"kind": "video", "sha256": "a" * 64, "md5": "b" * 32, "frames": [{"t": 0, "pdq": "x"}]}]),
     "file 1, frame 1: pdq"),
    (json.dumps([{"kind": "image", "sha256": "a" * 64, "md5": "b" * 32}] * 21), "at most 20"),
])
def test_it_refuses_anything_but_the_pages_hashes(raw: str, message: str) -> None:
    with pytest.raises(services.SubmissionError, match=message):
        services.parse_submission(raw)


def test_it_leaves_out_low_quality_pdqs_and_keeps_video_frames() -> None:
    parsed = services.parse_submission(json.dumps([
        {"kind": "image", "sha256": "A" * 64, "md5": "b" * 32, "pdq": "c" * 64, "quality": 12},
        {"kind": "video", "sha256": "d" * 64, "md5": "e" * 32,
         "frames": [{"t": 0, "pdq": "1" * 64, "quality": 90}, {"t": 1.0, "pdq": "2" * 64, "quality": 30}]},
    ]))
    assert [(s.signal_type, s.value[:1], s.frame_time) for s in parsed.signals] == [
        ("sha256", "a", None), ("md5", "b", None),
        ("sha256", "d", None), ("md5", "e", None), ("video_md5", "e", None), ("pdq", "1", 0.0)]


def test_submitted_hashes_wait_for_two_different_analysts(analyst: User, analyst2: User) -> None:
    _, files = _image(1)
    referral, code = services.submit_referral(services.parse_submission(json.dumps([files])))
    assert normalize_code(code.lower().replace("-", " ")) == code
    assert services.find_by_code(code) == referral and referral.code_digest != code
    entries = Entry.objects.filter(bank__name=BANK_NAME)
    assert sorted(entries.values_list("signal_type", "status")) == [
        ("md5", "pending"), ("pdq", "pending"), ("sha256", "pending")]
    assert services.confirm_referral(referral, user=analyst) == ReferralStatus.FIRST_CONFIRMED
    with pytest.raises(services.FourEyesError):
        services.confirm_referral(referral, user=analyst)
    assert set(entries.values_list("status", flat=True)) == {"pending"}
    assert services.confirm_referral(referral, user=analyst2) == ReferralStatus.CONFIRMED
    assert set(entries.values_list("status", flat=True)) == {"active"}
    assert set(entries.values_list("confirmed_by", flat=True)) == {analyst2.pk}
    actions = list(AuditEvent.objects.filter(object_type="selfreferral.referral").order_by("seq")
                   .values_list("action", flat=True))  # in the order written (a table's row order is not)
    assert actions == ["selfreferral.submitted", "selfreferral.confirmed", "selfreferral.confirmed"]


def test_the_backfill_finds_past_captures_exactly_near_and_in_video_frames(
        analyst: User, analyst2: User, make_item: Callable[..., Item], make_media: MakeMedia) -> None:
    data, files = _image(2)
    exact = make_media(make_item(), data=data)
    Media.objects.filter(pk=exact.pk).update(pdq=files["pdq"], pdq_quality=files["quality"])
    near = make_media(make_item(), seed=7)
    Media.objects.filter(pk=near.pk).update(pdq=_flip(files["pdq"], 9), pdq_quality=90)
    far = make_media(make_item(), seed=8)
    Media.objects.filter(pk=far.pk).update(pdq=_flip(files["pdq"], 40), pdq_quality=90)
    video = make_media(make_item(), seed=9)
    Media.objects.filter(pk=video.pk).update(kind="video", vpdq=[
        {"i": 0, "t": 0.0, "pdq": "f" * 64, "q": 90}, {"i": 30, "t": 1.0, "pdq": _flip(files["pdq"], 3), "q": 90}])
    referral, code = _confirmed([files], analyst, analyst2)
    assert MediaMatch.objects.count() == 0
    _run_scans()
    found = {(m.media_id, m.signal_type, m.distance) for m in MediaMatch.objects.all()}  # make_media sets no md5
    assert found == {(exact.pk, "sha256", 0), (exact.pk, "pdq", 0), (near.pk, "pdq", 9), (video.pk, "pdq", 3)}
    referral.refresh_from_db()
    assert referral.scanned_through == video.pk and referral.scan_due_at is not None
    _run_scans()
    assert MediaMatch.objects.count() == 4, "a second pass records nothing twice"
    found_events = AuditEvent.objects.filter(action="selfreferral.found")
    assert sum((e.after or {})["new_matches"] for e in found_events) == 4
    status = services.public_status(services.find_by_code(code))  # type: ignore[arg-type]
    assert (status.places, status.removed) == (3, 0)
    now = timezone.now()
    Takedown.objects.create(item=exact.item, state=TakedownState.REMOVED, state_changed_at=now, opened_at=now,
                            reported_at=now, removed_at=now)
    assert services.public_status(referral).removed == 1


def test_future_captures_match_through_the_normal_path(analyst: User, analyst2: User,
                                                         make_item: Callable[..., Item],
                                                         make_media: MakeMedia) -> None:
    data, files = _image(11)
    _confirmed([files], analyst, analyst2)
    later = make_media(make_item(), data=data)
    Media.objects.filter(pk=later.pk).update(md5=files["md5"], pdq=files["pdq"], pdq_quality=files["quality"])
    assert match_step(now=timezone.now())
    assert set(MediaMatch.objects.filter(media=later).values_list("signal_type", flat=True)) == {"sha256", "md5", "pdq"}
    later.refresh_from_db()
    assert later.inherited_verdict == "", "a self-referral is no verdict: nobody here has seen the image"


def test_unconfirmed_hashes_match_nothing(make_item: Callable[..., Item], make_media: MakeMedia) -> None:
    data, files = _image(4)
    services.submit_referral(services.parse_submission(json.dumps([files])))
    make_media(make_item(), data=data)
    match_step(now=timezone.now())
    assert not MediaMatch.objects.exists()


def test_industry_look_ups_see_confirmed_hashes_only(analyst: User, analyst2: User,
                                                      partner_client: tuple[ApiClient, str]) -> None:
    _, token = partner_client
    _, files = _image(5)
    body = json.dumps({"hashes": [{"signal_type": "md5", "value": files["md5"]},
                                  {"signal_type": "pdq", "value": _flip(files["pdq"], 5)}]})

    def look() -> list[list[dict[str, Any]]]:
        response = Client().post("/api/v1/hashes/lookup", body, content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200
        return [r["matches"] for r in response.json()["results"]]

    referral, _ = services.submit_referral(services.parse_submission(json.dumps([files])))
    assert look() == [[], []]
    services.confirm_referral(referral, user=analyst)
    services.confirm_referral(referral, user=analyst2)
    exact, near = look()
    assert [(m["bank"], m["classification"], m["distance"]) for m in exact] == [(BANK_NAME, "self_referral", 0)]
    assert [(m["bank"], m["distance"]) for m in near] == [(BANK_NAME, 5)]


def test_a_rejected_request_matches_nothing_yet_does_not_block_a_real_one(analyst: User, analyst2: User,
                                                                          senior: User) -> None:
    _, one = _image(13)
    rejected, _ = services.submit_referral(services.parse_submission(json.dumps([one])))
    with pytest.raises(ValueError, match="say why"):
        services.reject_referral(rejected, user=analyst, reason=" ")
    services.reject_referral(rejected, user=analyst, reason="hundreds of unrelated files")
    assert set(Entry.objects.filter(bank__name=BANK_NAME).values_list("status", flat=True)) == {"pending"}
    _confirmed([one], analyst2, senior)
    assert set(Entry.objects.filter(bank__name=BANK_NAME).values_list("status", flat=True)) == {"active"}


def test_withdrawing_disables_only_what_no_other_referral_needs(analyst: User, analyst2: User) -> None:
    _, one = _image(6 + 1)
    _, two = _image(8)
    first, _ = _confirmed([one, two], analyst, analyst2)
    second, _ = _confirmed([two], analyst2, analyst)
    services.withdraw_referral(first)
    first.refresh_from_db()
    assert first.status == ReferralStatus.WITHDRAWN and first.scan_due_at is None
    status = dict(Entry.objects.filter(bank__name=BANK_NAME).values_list("value", "status"))
    assert status[one["sha256"]] == EntryStatus.DISABLED and status[two["sha256"]] == EntryStatus.ACTIVE
    services.withdraw_referral(second)
    assert Entry.objects.get(value=two["sha256"]).status == EntryStatus.DISABLED


def test_the_optional_email_is_encrypted_at_rest() -> None:
    _, files = _image(8)
    referral, _ = services.submit_referral(services.parse_submission(json.dumps([files])),
                                           email="young.person@example.test")
    with connection.cursor() as cursor:
        cursor.execute("SELECT contact_email FROM selfreferral_referral WHERE id = %s", [referral.pk])
        raw = cursor.fetchone()[0]
    assert "example.test" not in raw and raw
    assert Referral.objects.get(pk=referral.pk).contact_email == "young.person@example.test"
