"""Directory forms: the edit pages and the importer validate hotlines and police contacts alike."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from hotline.lib import signing
from hotline.partners.models import PartnerHotline, PoliceContact
from hotline.partners.protocol import CODE_PATTERN

_LIST_SPLIT = re.compile(r"[\s,;]+")


def split_list(value: Any) -> list[str]:
    """``"BE NL"``, ``"BE;NL"``, ``"BE, NL"`` or ``["BE", "NL"]`` as a list of strings."""
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part for part in _LIST_SPLIT.split(str(value or "")) if part]


class _ListField(forms.CharField):
    def __init__(self, *, pattern: str, upper: bool, message: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern, self.upper, self.message = re.compile(pattern), upper, message

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        items = [v.upper() if self.upper else v.lower() for v in split_list(value)]
        bad = [v for v in items if not self.pattern.fullmatch(v)]
        if bad:
            raise ValidationError(self.message % {"value": bad[0][:20]})
        return list(dict.fromkeys(items))

    def prepare_value(self, value: Any) -> Any:
        return " ".join(value) if isinstance(value, list) else value

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")


def _countries(required: bool) -> _ListField:
    return _ListField(pattern=r"[A-Z]{2}", upper=True, required=required, label=_("Countries served"),
                      message=_("%(value)s is not a two-letter country code"),
                      help_text=_("Two-letter codes separated by spaces, e.g. NL BE"))


def _languages() -> _ListField:
    return _ListField(pattern=r"[a-z]{2,3}(-[a-z0-9]{2,8})?", upper=False, required=False, label=_("Languages"),
                      message=_("%(value)s is not a language code"), help_text=_("e.g. nl fr en"))


def _public_key(value: str) -> None:
    try:
        signing.public_key(value)
    except ValueError as exc:
        raise ValidationError(_("not an Ed25519 public key: %(reason)s") % {"reason": exc}) from None


def _http_only(value: str) -> None:
    if value and not value.lower().startswith(("http://", "https://")):
        raise ValidationError(_("must be an http or https URL"))


class HotlineForm(forms.Form):
    code = forms.RegexField(regex=CODE_PATTERN, max_length=40, label=_("Code"),
                            error_messages={"invalid": _("lower-case letters, digits and '-'")})
    name = forms.CharField(max_length=200, label=_("Name"))
    countries = _countries(required=True)
    endpoint = forms.URLField(max_length=200, required=False, label=_("Exchange endpoint"), validators=[_http_only],
                              assume_scheme="https")
    public_key = forms.CharField(max_length=100, required=False, label=_("Public key (Ed25519, base64)"),
                                 validators=[_public_key])
    languages = _languages()
    contact_email = forms.EmailField(required=False, label=_("Contact e-mail"))
    active = forms.BooleanField(required=False, initial=True, label=_("Active"))

    def __init__(self, *args: Any, instance: PartnerHotline | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance

    def clean_code(self) -> str:
        code: str = self.cleaned_data["code"]
        taken = PartnerHotline.objects.filter(code=code)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(_("another partner already has this code"))
        return code


class PoliceForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    country = forms.RegexField(regex=r"^[A-Za-z]{2}$", label=_("Country"),
                               error_messages={"invalid": _("a two-letter country code")})
    kind = forms.ChoiceField(choices=PoliceContact.Kind.choices, label=_("Kind"))
    channel = forms.ChoiceField(choices=PoliceContact.Channel.choices, initial=PoliceContact.Channel.EMAIL,
                                label=_("Channel"))
    email = forms.EmailField(required=False, label=_("E-mail"))
    endpoint = forms.URLField(max_length=200, required=False, label=_("Endpoint"), validators=[_http_only],
                              assume_scheme="https")
    languages = _languages()
    active = forms.BooleanField(required=False, initial=True, label=_("Active"))

    def clean_country(self) -> str:
        return str(self.cleaned_data["country"]).upper()

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        channel = data.get("channel")
        if channel == PoliceContact.Channel.EMAIL and not data.get("email") and "email" not in self.errors:
            self.add_error("email", _("an e-mail channel needs an address"))
        if channel == PoliceContact.Channel.HTTP and not data.get("endpoint") and "endpoint" not in self.errors:
            self.add_error("endpoint", _("an HTTP channel needs an endpoint"))
        return data


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Directory file (JSON or CSV)"))
