"""The workbench forms: one for the page (item-level fields) and one per captured file.

Each field says for which verdicts it applies (``SHOWN_FOR``); the page hides the others and the
service refuses what does not belong to the verdict, with the error on that field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.assessment.codes import UNAVAILABLE_REASONS, Reason, Verdict
from hotline.assessment.derivation import MEDIA_VERDICTS
from hotline.assessment.models import Assessment, MediaAssessment
from hotline.assessment.services import (
    FIELDS,
    FILE_ANNOTATION_FIELDS,
    MEDIA_FIELDS,
    REPORT_ANNOTATION_FIELDS,
    AssessmentData,
    MediaData,
)
from hotline.reports.models import ItemStatus

ILLEGAL = "baseline national"
# field -> the verdicts it belongs to (space-separated, read by workbench.js as data-show-for).
SHOWN_FOR = {
    "legal_limb": ILLEGAL, "content_type": ILLEGAL, "age_group": ILLEGAL, "gender": ILLEGAL,
    "is_virtual": ILLEGAL, "is_manipulated": ILLEGAL, "is_self_generated": ILLEGAL, "is_child_modelling": ILLEGAL,
    "site_type": ILLEGAL, "commerciality": ILLEGAL, "payment_method": ILLEGAL,
    "other_harm": "other_harm", "reason": "unreachable not_illegal",
    # For illegal material "self-generated" above is this annotation (the service sets both).
    "ann_self_production": "not_illegal unreachable other_harm",
}
ILLEGAL_ONLY = ("legal_limb", "content_type", "age_group", "gender", "is_virtual", "is_manipulated",
                "is_self_generated", "is_child_modelling")
NOT_ILLEGAL_REASONS = [(v, label) for v, label in Reason.choices if v not in UNAVAILABLE_REASONS]
UNAVAILABLE_CHOICES = [(v, label) for v, label in Reason.choices if v in UNAVAILABLE_REASONS]
# The CyberTipline annotations, for the template (report-level, then per file).
ANNOTATION_FIELDS = (*REPORT_ANNOTATION_FIELDS, *FILE_ANNOTATION_FIELDS)
RADIOS = ("verdict", "legal_limb", "age_group", "gender", "content_type", "reason", "other_harm", "commerciality")


def _radios(form: forms.BaseForm) -> None:
    """Radio buttons without a "---------" choice: one click (or key) instead of opening a list."""
    for name in RADIOS:
        field = form.fields.get(name)
        if isinstance(field, forms.ChoiceField):
            field.choices = [(v, label) for v, label in field.choices if v != ""]  # type: ignore[misc,union-attr]
            field.widget = forms.RadioSelect(choices=field.choices)


def _blank_label(form: forms.BaseForm, name: str) -> None:
    field = form.fields.get(name)
    if isinstance(field, forms.ChoiceField):
        field.choices = [(v, label if v else _("(not set)")) for v, label in field.choices]  # type: ignore[misc,union-attr]


def _keep(cleaned: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: ("" if cleaned.get(name) is None else cleaned[name]) for name in names if name in cleaned}


class AssessmentForm(forms.ModelForm):  # type: ignore[type-arg]
    """The page: its outcome and item-level fields. With ``per_media`` the file codes live in the
    ``MediaForm``s and the page's verdict is empty ("follows from the files"), unreachable or other harm."""

    class Meta:
        model = Assessment
        fields = list(FIELDS)
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, reviewing: bool = False, per_media: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.per_media = per_media
        if reviewing:
            del self.fields["second_opinion"]
        _radios(self)
        _blank_label(self, "site_type")
        verdict = self.fields["verdict"]
        assert isinstance(verdict, forms.ChoiceField)
        if per_media:
            for name in (*ILLEGAL_ONLY, *FILE_ANNOTATION_FIELDS):  # each file's form carries them
                del self.fields[name]
            verdict.required = False
            verdict.choices = [("", _("Follows from the files")), (Verdict.UNREACHABLE, Verdict.UNREACHABLE.label),
                               (Verdict.OTHER_HARM, Verdict.OTHER_HARM.label)]
            verdict.widget = forms.RadioSelect(choices=verdict.choices)
            self.fields["reason"].widget = forms.RadioSelect(choices=UNAVAILABLE_CHOICES)
            self.fields["reason"].choices = UNAVAILABLE_CHOICES  # type: ignore[attr-defined]
            self.initial.setdefault("verdict", "")

    def to_data(self, media: tuple[MediaData, ...] = ()) -> AssessmentData:
        values = {"verdict": ""} | _keep(getattr(self, "cleaned_data", {}), FIELDS)
        if self.per_media and values.get("verdict") != Verdict.OTHER_HARM:
            values["other_harm"] = ""
        return AssessmentData(**values, media=media)


class MediaForm(forms.ModelForm):  # type: ignore[type-arg]
    """One captured file (and its duplicates): its verdict and the codes that verdict asks for."""

    class Meta:
        model = MediaAssessment
        # A file's "self-production" annotation follows its "self-generated" flag (one tick, not two).
        fields = [name for name in MEDIA_FIELDS if name != "ann_self_production"]

    def __init__(self, *args: Any, media_id: int, **kwargs: Any) -> None:
        kwargs["prefix"] = f"m{media_id}"
        super().__init__(*args, **kwargs)
        self.media_id = media_id
        _radios(self)
        verdict = self.fields["verdict"]
        assert isinstance(verdict, forms.ChoiceField)
        verdict.required = False
        verdict.choices = [(v, label) for v, label in Verdict.choices if v in MEDIA_VERDICTS]
        verdict.widget = forms.RadioSelect(choices=verdict.choices)
        self.fields["reason"].widget = forms.RadioSelect(choices=NOT_ILLEGAL_REASONS)
        self.fields["reason"].choices = NOT_ILLEGAL_REASONS  # type: ignore[attr-defined]

    def to_data(self) -> MediaData | None:
        values = _keep(getattr(self, "cleaned_data", {}), MEDIA_FIELDS)  # the annotation: from the flag
        if not values.get("verdict"):
            return None
        if values["verdict"] not in ("baseline", "national"):
            values |= {name: (False if name.startswith("is_") else "") for name in ILLEGAL_ONLY}
        return MediaData(self.media_id, **values)


class ReviewRequestForm(forms.Form):
    reason = forms.CharField(label=_("Why should this verdict be reviewed?"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ItemSearchForm(forms.Form):
    q = forms.CharField(label=_("URL or host contains"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any")), *ItemStatus.choices])
