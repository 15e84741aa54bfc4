"""Forms of reports without a URL: the public form (only what is needed) and the staff actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from hotline.assessment.codes import REPORT_ANNOTATIONS
from hotline.assessment.services.incidents import MAX_ACCOUNTS, MAX_DESCRIPTION, screenshot_problem
from hotline.lib.textguard import text_problem
from hotline.reports.models import ReportKind
from hotline.reports.services import MAX_CONTACT_LENGTH

KIND_CHOICES = [
    (ReportKind.SEXTORTION.value,
     _("Someone threatens to share images of me (or of a child) unless I pay or send more")),
    (ReportKind.SOLICITATION.value, _("Someone asks me (or a child) for sexual images")),
    (ReportKind.GROOMING.value, _("An adult seeks sexual contact with a child online")),
]
TEXT_FIELDS = ("description", "platform", "accounts", "happened_when", "contact")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ScreenshotsField(forms.FileField):
    """Zero or more image files; each one checked by its bytes, never by its name or declared type."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}))
        super().__init__(required=False, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[bytes]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        limit: int = settings.HOTLINE_INCIDENT_MAX_SCREENSHOTS
        if len(files) > limit:
            raise forms.ValidationError(
                ngettext("Attach at most %(n)d screenshot.", "Attach at most %(n)d screenshots.", limit) % {"n": limit})
        found: list[bytes] = []
        for upload in files:
            assert isinstance(upload, UploadedFile)
            data_bytes = upload.read(settings.HOTLINE_INCIDENT_MAX_SCREENSHOT_BYTES + 1)
            problem = screenshot_problem(data_bytes)
            if problem == "too large":
                raise forms.ValidationError(_("A screenshot is larger than %(mb)d MB.") % {
                    "mb": max(1, settings.HOTLINE_INCIDENT_MAX_SCREENSHOT_BYTES // (1024 * 1024))})
            if problem is not None:
                raise forms.ValidationError(_("Only images can be attached (PNG, JPEG, GIF or WebP)."))
            found.append(data_bytes)
        return found


class IncidentReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What is happening?"), choices=KIND_CHOICES, widget=forms.RadioSelect)
    ongoing = forms.BooleanField(label=_("It is happening now, or someone is threatening me right now"),
                                 required=False)
    description = forms.CharField(label=_("What happened?"), max_length=MAX_DESCRIPTION,
                                  widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text=_("Tell it in your own words. Do not send sexual images."))
    platform = forms.CharField(label=_("Which app, game or website? (optional)"), max_length=200, required=False)
    accounts = forms.CharField(label=_("The other person's account names or profile links (optional)"),
                               max_length=MAX_ACCOUNTS, required=False,
                               widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}))
    happened_when = forms.CharField(label=_("When did it happen? (optional)"), max_length=100, required=False)
    contact = forms.CharField(label=_("Your e-mail or phone number (optional)"), required=False,
                              max_length=MAX_CONTACT_LENGTH,
                              help_text=_("Leave empty to report anonymously. We use it only to help you."))
    screenshots = ScreenshotsField(
        label=_("Screenshots of the conversation (optional)"),
        help_text=_("Screenshots of messages or of the profile help the police. Never attach sexual images."))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in TEXT_FIELDS:
            value = cleaned.get(name)
            if isinstance(value, str) and text_problem(value) is not None:
                self.add_error(name, _("This text contains characters we cannot store."))
        return cleaned


class ReferForm(forms.Form):
    police_reference = forms.CharField(label=_("Police reference (optional)"), max_length=100, required=False)

    def clean_police_reference(self) -> str:
        value: str = self.cleaned_data["police_reference"]
        if text_problem(value) is not None:
            raise forms.ValidationError(_("This text contains characters we cannot store."))
        return value


class IncidentAnnotationsForm(forms.Form):
    annotations = forms.MultipleChoiceField(label=_("Annotations"), required=False,
                                            choices=list(REPORT_ANNOTATIONS.items()),
                                            widget=forms.CheckboxSelectMultiple)
