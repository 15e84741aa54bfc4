"""Forms of the case pages. Item numbers are typed or ticked; each form names the field at fault."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.cases.codes import CaseKind, CaseStatus, DismissalReason, OutcomeCode, outcome_label, reason_label
from hotline.partners.models import PoliceContact
from hotline.reports.models import Item, ItemQuerySet

MAX_ITEMS = 500


class ItemNumbersWidget(forms.Textarea):
    """Item numbers from a text box ("12, 13 #14") and from ticked boxes of the same name, together."""

    def value_from_datadict(self, data: Mapping[str, Any], files: Any, name: str) -> str:
        getlist = getattr(data, "getlist", None)
        values = getlist(name) if getlist else [data.get(name, "")]
        return " ".join(str(value) for value in values if value)


class ItemNumbersField(forms.CharField):
    widget = ItemNumbersWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", ItemNumbersWidget(attrs={"rows": 2}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[int]:
        text = super().clean(value)
        numbers: list[int] = []
        for token in re.split(r"[\s,;]+", str(text or "").strip()):
            if not token:
                continue
            if not re.fullmatch(r"#?\d{1,12}", token):
                raise forms.ValidationError(_("%(value)s is not an item number"), params={"value": token[:40]})
            numbers.append(int(token.lstrip("#")))
        if len(set(numbers)) > MAX_ITEMS:
            raise forms.ValidationError(_("at most %(n)d items at a time"), params={"n": MAX_ITEMS})
        return list(dict.fromkeys(numbers))


def resolve_items(form: forms.Form, numbers: list[int], visible: ItemQuerySet) -> list[Item]:
    """The items numbered, among those the user may see; an unknown number is an error on `items`."""
    found = {item.pk: item for item in visible.filter(pk__in=numbers)}
    missing = [n for n in numbers if n not in found]
    if missing:
        form.add_error("items", _("no item %(numbers)s") % {"numbers": ", ".join(f"#{n}" for n in missing[:20])})
    return [found[n] for n in numbers if n in found]


class CaseForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=CaseKind.choices)
    description = forms.CharField(label=_("Description"), required=False, max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    items = ItemNumbersField(label=_("Item numbers"), help_text=_("Separated by spaces or commas."))


class ItemsForm(forms.Form):
    items = ItemNumbersField(label=_("Item numbers"))


class RemoveItemForm(forms.Form):
    item = forms.IntegerField(label=_("Item number"), min_value=1)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ReferForm(forms.Form):
    police = forms.ModelChoiceField(label=_("Police contact"), queryset=PoliceContact.objects.filter(active=True))


def _outcome_choices() -> list[tuple[str, str]]:
    return [(code, outcome_label(code)) for code in OutcomeCode.values]


def _reason_choices() -> list[tuple[str, str]]:
    return [("", "—"), *((code, reason_label(code)) for code in DismissalReason.values)]


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=_outcome_choices)
    decided_on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.ChoiceField(label=_("Dismissal reason (for a dismissal)"), choices=_reason_choices,
                               required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


class CaseFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *CaseStatus.choices])
    outcome = forms.ChoiceField(label=_("Current outcome"), required=False,
                                choices=lambda: [("", _("All")), ("none", _("None yet")), *_outcome_choices()])
    q = forms.CharField(label=_("Reference or title"), required=False, max_length=100)
