"""The assessment form: DOMAIN.md §3 fields, validated by the same rules as the service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.assessment.models import Assessment
from hotline.assessment.services import FIELDS, AssessmentData, validate
from hotline.reports.models import ItemStatus


class AssessmentForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Assessment
        fields = list(FIELDS)
        widgets = {
            "verdict": forms.RadioSelect,
            "legal_limb": forms.RadioSelect,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, reviewing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if reviewing:
            del self.fields["second_opinion"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "verdict" in cleaned:
            for name, message in validate(self.to_data(cleaned)).items():
                if name in self.fields:
                    self.add_error(name, message)
        return cleaned

    @staticmethod
    def to_data(cleaned: dict[str, Any]) -> AssessmentData:
        values: dict[str, Any] = {
            name: ("" if cleaned.get(name) is None else cleaned[name]) for name in FIELDS if name in cleaned
        }
        return AssessmentData(**values)


class ReviewRequestForm(forms.Form):
    reason = forms.CharField(label=_("Why should this verdict be reviewed?"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ItemSearchForm(forms.Form):
    q = forms.CharField(label=_("URL or host contains"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any")), *ItemStatus.choices])
