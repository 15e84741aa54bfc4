"""Forms of the takedown pages: a new information request, its answer, and the public respond page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.takedown.models import ANSWER_STATES, OnBehalfOf, RequestKind, RequestState, SubjectType

LANGUAGE_CHOICES = [("en", "English"), ("nl", "Nederlands"), ("fr", "Français"), ("de", "Deutsch")]


class InfoRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Request"), choices=RequestKind.choices)
    on_behalf_of = forms.ChoiceField(label=_("On behalf of"), choices=OnBehalfOf.choices)
    police_reference = forms.CharField(label=_("Police reference"), max_length=100, required=False)
    company_name = forms.CharField(label=_("Company"), max_length=200)
    email = forms.EmailField(label=_("Company's address for requests"))
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    subject_type = forms.ChoiceField(label=_("About"), choices=SubjectType.choices)
    subject = forms.CharField(label=_("Account or URL"), max_length=2000)
    legal_basis = forms.CharField(label=_("Legal basis"), widget=forms.Textarea(attrs={"rows": 2}))
    deadline_days = forms.IntegerField(label=_("Deadline (days)"), min_value=1, max_value=365, initial=14)
    reminder_hours = forms.IntegerField(label=_("Remind every (hours)"), min_value=1, max_value=24 * 30,
                                        initial=72)
    item = forms.IntegerField(label=_("Item number (optional)"), required=False, min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("on_behalf_of") == OnBehalfOf.POLICE and not data.get("police_reference", "").strip():
            self.add_error("police_reference", _("A request on behalf of the police names the police reference."))
        return data


ANSWER_CHOICES = [(state, label) for state, label in RequestState.choices if state in ANSWER_STATES]


class AnswerForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Answer"), choices=ANSWER_CHOICES)
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class RespondNoticeForm(forms.Form):
    action = forms.ChoiceField(choices=[("acknowledge", _("We received this notice")),
                                        ("removed", _("The content has been removed"))])


PROVIDER_ANSWERS = [(RequestState.ANSWERED, _("Done")), (RequestState.PARTIAL, _("Done in part")),
                    (RequestState.REFUSED, _("Refused"))]


class RespondRequestForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Your answer"), choices=PROVIDER_ANSWERS)
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
