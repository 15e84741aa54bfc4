from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.retention.models import HoldTarget
from hotline.retention.services import MAX_REASON


class HoldForm(forms.Form):
    object_type = forms.ChoiceField(label=_("Hold on"), choices=HoldTarget.choices)
    object_id = forms.IntegerField(label=_("Item or case number"), min_value=1)
    reason = forms.CharField(label=_("Reason (case number, request, legal basis)"), max_length=MAX_REASON,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ReleaseForm(forms.Form):
    reason = forms.CharField(label=_("Reason for release"), max_length=MAX_REASON,
                             widget=forms.Textarea(attrs={"rows": 2}))


def form_errors(form: forms.Form) -> str:
    """One line naming each field and what is wrong with it."""
    return "; ".join(f"{name}: {', '.join(str(e) for e in errors)}" for name, errors in form.errors.items())
