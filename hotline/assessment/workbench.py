"""The analyst's workbench: everything the item page shows and the forms it posts, built once.

One card per distinct file (duplicates shown once, with a count); known content gets a card that
says so and never shows the file again; the page's own fields come once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.http import HttpRequest

from hotline.accounts.models import User
from hotline.assessment.codes import UNAVAILABLE_REASONS
from hotline.assessment.forms import AssessmentForm, MediaForm
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.assessment.services import AssessmentData, assessable_media
from hotline.evidence import services as evidence_services
from hotline.evidence import welfare
from hotline.evidence.models import Capture, Media
from hotline.evidence.views import MEDIA_VIEWERS, revealed_id
from hotline.reports.models import Item, ItemStatus


@dataclass
class Card:
    media: Media
    copies: int = 1
    form: MediaForm | None = None
    earlier: MediaAssessment | None = None

    @property
    def known(self) -> bool:
        return bool(self.media.inherited_verdict)


@dataclass
class Bench:
    """The forms of one item page; ``cards`` hold a form each unless their file is known content."""

    form: AssessmentForm
    cards: list[Card] = field(default_factory=list)

    def is_valid(self) -> bool:
        results = [self.form.is_valid(), *(c.form.is_valid() for c in self.cards if c.form is not None)]
        return all(results)

    def to_data(self) -> AssessmentData:
        rows = tuple(row for c in self.cards if c.form is not None and (row := c.form.to_data()) is not None)
        return self.form.to_data(rows)

    def add_errors(self, errors: Mapping[str, str]) -> None:
        """Put each problem the service found beside its own field (file fields are ``media-<id>-<name>``)."""
        forms = {c.media.pk: c.form for c in self.cards if c.form is not None}
        for key, message in errors.items():
            if key.startswith("media-"):
                _, pk, name = key.split("-", 2)
                target = forms.get(int(pk))
                if target is not None and name in target.fields:
                    if not target.has_error(name):
                        target.add_error(name, message)
                    continue
            if key in self.form.fields:
                if not self.form.has_error(key):
                    self.form.add_error(key, message)
            else:
                self.form.add_error(None, message)


def cards_of(media: list[Media]) -> list[Card]:
    """One card per distinct SHA-256 (the first copy), counting the copies."""
    cards: dict[str, Card] = {}
    for one in media:
        if one.sha256 in cards:
            cards[one.sha256].copies += 1
        else:
            cards[one.sha256] = Card(one)
    return list(cards.values())


def _earlier(item: Item) -> tuple[Assessment | None, dict[int, MediaAssessment]]:
    latest = item.assessments.order_by("-created_at", "-pk").first()
    if latest is None:
        return None, {}
    return latest, {row.media_id: row for row in latest.media_assessments.all()}


def _unavailable_reason(capture: Capture | None) -> str:
    return capture.reason_code if capture is not None and capture.reason_code in UNAVAILABLE_REASONS else ""


def build(item: Item, *, data: Mapping[str, Any] | None = None, capture: Capture | None = None) -> Bench:
    """The forms for ``item``: posted ``data``, or for a reviewer the first analyst's answers."""
    media = list(assessable_media(item).prefetch_related("matches__bank", "matches__entry"))
    cards = cards_of(media)
    reviewing = item.status == ItemStatus.IN_REVIEW
    latest, rows = _earlier(item) if reviewing else (None, {})
    per_media = bool(cards)
    initial: dict[str, Any] = {}
    if latest is not None and per_media and rows:
        initial["verdict"] = ""
    if latest is None and (reason := _unavailable_reason(capture)):
        initial["reason"] = reason
    form = AssessmentForm(data, instance=latest, initial=initial, reviewing=reviewing, per_media=per_media)
    for card in cards:
        card.earlier = rows.get(card.media.pk)
        if not card.known:
            card.form = MediaForm(data, media_id=card.media.pk, instance=card.earlier, initial=_media_initial(card))
    return Bench(form, cards)


def _media_initial(card: Card) -> dict[str, Any]:
    """A new file's form starts with its kind, and with the virtual / manipulated flag ticked for review when
    its own metadata says it was generated or composited (a hint the analyst confirms or clears)."""
    media = card.media
    initial: dict[str, Any] = {"content_type": media.kind if media.kind in ("image", "video") else ""}
    if card.earlier is None:
        initial |= {"is_virtual": media.ai_hint, "is_manipulated": bool(media.provenance.get("manipulated"))}
    return initial


def media_context(request: HttpRequest, item: Item, user: User, now: datetime, cards: list[Card],
                  capture: Capture | None) -> dict[str, Any]:
    """Viewing is counted and audited only when a file is actually shown (blurred); known content is not."""
    if capture is None or not user.has_role(*MEDIA_VIEWERS):
        return {"welfare": None, "bad_media": []}
    shown = sum(1 for c in cards if not c.known)
    if shown:
        state = evidence_services.note_media_viewed(item, capture, shown, user=user, now=now)
    else:
        state = welfare.current(user, now)
    bad = list(capture.media.filter(is_bad=True).order_by("pk")) if capture.outcome == "captured" else []
    return {"welfare": state, "revealed_id": revealed_id(request), "bad_media": bad}
