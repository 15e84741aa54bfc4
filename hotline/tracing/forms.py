"""Forms of the provider directory and the trace page; they clean into ``schema`` records."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from hotline.tracing.models import Channel, Provider
from hotline.tracing.schema import ContactIn, ProviderIn, split_networks


class OriginForm(forms.Form):
    address = forms.CharField(label=_("Origin address (IP)"), max_length=45)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV or JSON file"))
    format = forms.ChoiceField(label=_("Format"), choices=[("auto", _("By file name")), ("csv", "CSV"),
                                                          ("json", "JSON")], initial="auto")

    def file_format(self) -> str:
        chosen = str(self.cleaned_data["format"])
        if chosen != "auto":
            return chosen
        return "json" if self.cleaned_data["file"].name.lower().endswith(".json") else "csv"


class ProviderForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    country = forms.CharField(label=_("Country (two letters)"), max_length=2, required=False)
    is_cdn = forms.BooleanField(label=_("CDN or reverse proxy"), required=False)
    website = forms.CharField(label=_("Website"), max_length=300, required=False)
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    networks = forms.CharField(
        label=_("Networks"), required=False, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One per line: an AS number (AS13335) or an address range (104.16.0.0/13)."))

    def __init__(self, *args: Any, instance: Provider | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name, "country": instance.country, "is_cdn": instance.is_cdn,
                "website": instance.website, "notes": instance.notes,
                "networks": "\n".join(f"AS{n.asn}" if n.asn else n.cidr for n in instance.networks.order_by("pk")),
            }
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        clash = Provider.objects.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another provider has this name."))
        return name

    def provider_in(self, contacts: list[ContactIn]) -> ProviderIn | None:
        """The validated directory record, or None with the errors attached to the fields they are about."""
        try:
            asns, cidrs = split_networks(self.cleaned_data.get("networks", ""))
        except ValueError as exc:
            self.add_error("networks", str(exc))
            return None
        data = {k: self.cleaned_data.get(k) or "" for k in ("name", "country", "website", "notes")}
        try:
            return ProviderIn(**data, is_cdn=bool(self.cleaned_data.get("is_cdn")), asns=asns, cidrs=cidrs,
                              contacts=contacts)
        except ValidationError as exc:
            for problem in exc.errors():
                where = str(problem["loc"][0]) if problem["loc"] else ""
                field = "networks" if where in ("asns", "cidrs") else where
                self.add_error(field if field in self.fields else None, problem["msg"])
            return None


class ContactForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    endpoint = forms.URLField(label=_("API endpoint"), required=False, assume_scheme="https")
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.EMAIL)
    language = forms.CharField(label=_("Language"), max_length=8, initial="en")
    repeat_hours = forms.IntegerField(label=_("Repeat every (hours)"), min_value=1, max_value=24 * 31, initial=24)

    def contact(self) -> ContactIn | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or not (data.get("email") or data.get("endpoint")):
            return None
        try:
            return ContactIn(id=data.get("id"), name=data.get("name") or "", email=data.get("email") or "",
                             endpoint=data.get("endpoint") or "", channel=data["channel"],
                             language=data["language"], repeat_hours=data["repeat_hours"])
        except ValidationError as exc:
            for problem in exc.errors():
                where = str(problem["loc"][0]) if problem["loc"] else ""
                self.add_error(where if where in self.fields else None, problem["msg"])
            return None


ContactFormSet = forms.formset_factory(ContactForm, extra=1, can_delete=True, max_num=50)


def contact_initial(provider: Provider | None) -> list[dict[str, Any]]:
    if provider is None:
        return []
    return [{"id": c.pk, "name": c.name, "email": c.email, "endpoint": c.endpoint, "channel": c.channel,
             "language": c.language, "repeat_hours": c.repeat_hours} for c in provider.contacts.order_by("pk")]
