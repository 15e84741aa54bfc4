"""The assessment form: DOMAIN.md §3 fields, validated by the same rules as the service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.assessment.models import Assessment
from hotline.assessment.services import FIELDS, AssessmentData, validate


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
        values = {name: cleaned.get(name) for name in FIELDS if name in cleaned}
        clean = {k: (v if v is not None else "") for k, v in values.items()}
        return AssessmentData(**clean)


class ReviewRequestForm(forms.Form):
    reason = forms.CharField(label=_("Why should this verdict be reviewed?"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ItemSearchForm(forms.Form):
    q = forms.CharField(label=_("URL or host contains"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from hotline.reports.models import ItemStatus

        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any")), *ItemStatus.choices]
