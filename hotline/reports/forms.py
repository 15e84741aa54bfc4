"""Forms of the intake channels that people fill in."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from hotline.lib.urls import InvalidURL, canonicalize
from hotline.reports.models import normalize_reference
from hotline.reports.services import MAX_CONTACT_LENGTH, MAX_TEXT_LENGTH


class PublicReportForm(forms.Form):
    urls = forms.CharField(
        label=_("Web addresses (one per line)"),
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "autocomplete": "off"}),
        max_length=50_000,
        help_text=_("Copy the address from your browser's address bar. Do not send images."),
    )
    description = forms.CharField(
        label=_("What did you see? (optional)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=MAX_TEXT_LENGTH,
    )
    contact = forms.CharField(
        label=_("Your e-mail or phone number (optional)"),
        required=False,
        max_length=MAX_CONTACT_LENGTH,
        help_text=_("Leave empty to report anonymously. We only use it if we need to ask you something."),
    )

    def clean_urls(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["urls"].splitlines()]
        urls = [line for line in lines if line]
        limit: int = settings.HOTLINE_MAX_URLS_PER_PUBLIC_REPORT
        if not urls:
            raise forms.ValidationError(_("Enter at least one web address."))
        if len(urls) > limit:
            raise forms.ValidationError(
                ngettext("Enter at most %(n)d address.", "Enter at most %(n)d addresses.", limit)
                % {"n": limit}
            )
        problems = []
        for number, line in enumerate(lines, start=1):
            if not line:
                continue
            try:
                canonicalize(line)
            except InvalidURL as exc:
                problems.append(
                    forms.ValidationError(
                        _("Line %(line)d is not a web address we can check: %(reason)s"),
                        params={"line": number, "reason": exc.message},
                    )
                )
        if problems:
            raise forms.ValidationError(problems)
        return urls


class StatusForm(forms.Form):
    code = forms.CharField(label=_("Your reference"), max_length=40, min_length=6)

    def clean_code(self) -> str:
        value: Any = self.cleaned_data["code"]
        return normalize_reference(str(value))


class CsvUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
