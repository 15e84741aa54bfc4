from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.routing.models import PoliceAnswer


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(label=_("Police answer"),
                               choices=[c for c in PoliceAnswer.choices if c[0] != PoliceAnswer.NONE])
    hold_until = forms.DateTimeField(label=_("Hold until (for a hold)"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
