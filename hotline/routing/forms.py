from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.routing import desk
from hotline.routing.models import PoliceAnswer


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(label=_("Police answer"),
                               choices=[c for c in PoliceAnswer.choices if c[0] != PoliceAnswer.NONE])
    hold_until = forms.DateTimeField(label=_("Hold until (for a hold)"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DeskFilterForm(forms.Form):
    """The referrals list's filters (GET); an invalid value is ignored, never an error page."""

    state = forms.ChoiceField(label=_("State"), required=False, choices=[
        ("", _("All")), (desk.AWAITING, _("Awaiting the police's answer")), (desk.ANSWERED, _("Answered")),
        (desk.UNSENT, _("Not sent (yet)"))])
    answer = forms.ChoiceField(label=_("Outcome"), required=False, choices=[
        ("", _("Any")), *[c for c in PoliceAnswer.choices if c[0] != PoliceAnswer.NONE]])
    created_from = forms.DateField(label=_("Created from"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label=_("Created until"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> desk.DeskFilters:
        self.is_valid()  # a field that does not validate is left out of cleaned_data: that filter is off
        data = self.cleaned_data
        return desk.DeskFilters(state=data.get("state") or "", answer=data.get("answer") or "",
                                created_from=data.get("created_from"), created_to=data.get("created_to"))
