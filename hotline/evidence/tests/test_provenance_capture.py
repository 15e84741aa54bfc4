"""Provenance hints end to end: captured from the simulated web, stored on the media, shown on the workbench
with the virtual / manipulated flag pre-ticked for review (never as a verdict)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.assessment.models import MediaAssessment
from hotline.evidence.models import Media
from hotline.evidence.services import CaptureConfig, capture_item
from hotline.reports.models import Item
from hotline.sim.web import SimWeb

pytestmark = pytest.mark.django_db
MARKINGS = ("c2pa", "xmp", "pngtext", "exif", "stripped")


def _gallery(sim: SimWeb) -> None:
    images = "".join(f'<img src="/media/ai-{m}-{n}.{"png" if m in ("c2pa", "pngtext") else "jpg"}">'
                     for n, m in enumerate(MARKINGS, start=1))
    sim.set_page("gallery.sim.test", "/synth", f"<!doctype html><title>gallery</title>{images}"
                 '<img src="/media/png-5.png">')


def _captured(sim: SimWeb, config: CaptureConfig, make_item: Callable[..., Item]) -> Item:
    _gallery(sim)
    item = make_item(sim.url("gallery.sim.test", "/synth"), captured=False)
    assert capture_item(item, config=config).outcome == "captured"
    return item


def test_capture_stores_the_hints_of_each_file(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item]
) -> None:
    item = _captured(sim, capture_config, make_item)
    by_marking = {re.search(r"/media/(?:ai-)?(\w+)-\d", m.url).group(1): m  # type: ignore[union-attr]
                  for m in Media.objects.filter(item=item)}
    assert {k for k, m in by_marking.items() if m.ai_hint} == {"c2pa", "xmp", "pngtext", "exif"}
    assert by_marking["stripped"].provenance == {} and by_marking["png"].provenance == {}
    c2pa = by_marking["c2pa"].provenance
    assert c2pa["c2pa"]["status"] == "untrusted signer"
    assert c2pa["sources"][0]["source_type"] == "trainedAlgorithmicMedia"


def test_the_workbench_shows_the_hint_and_pre_ticks_virtual_only_for_hinted_files(
    sim: SimWeb, capture_config: CaptureConfig, make_item: Callable[..., Item], login: Callable[[User], Client],
    analyst: User,
) -> None:
    item = _captured(sim, capture_config, make_item)
    client = login(analyst)
    client.post(reverse("assessment:claim", kwargs={"pk": item.pk}))
    page = client.get(reverse("assessment:item", kwargs={"pk": item.pk})).content.decode()
    hinted = set(Media.objects.filter(item=item, ai_hint=True).values_list("pk", flat=True))
    assert len(hinted) == 4
    assert page.count('data-provenance="ai"') == 4
    assert "not a verdict" in page
    for media in Media.objects.filter(item=item, kind="image"):
        box = re.search(rf'<input type="checkbox" name="m{media.pk}-is_virtual"[^>]*>', page)
        assert box is not None
        assert ("checked" in box.group(0)) == (media.pk in hinted), media.url
    # The hint is never a verdict: nothing is assessed until the analyst saves.
    assert not MediaAssessment.objects.filter(media__item=item).exists()
