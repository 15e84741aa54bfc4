"""The allow-list form. The service validates again: the form is for messages next to the field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.mailintake.models import SENDER_SOURCES, TrustMethod


class SenderForm(forms.Form):
    address = forms.EmailField(label=_("E-mail address"), max_length=320,
                               help_text=_("The From address its mails carry."))
    organisation = forms.CharField(label=_("Organisation"), max_length=200)
    source = forms.ChoiceField(label=_("Reports count as coming from"), choices=SENDER_SOURCES)
    trust_method = forms.ChoiceField(
        label=_("How a mail proves it comes from this sender"), choices=TrustMethod.choices,
        help_text=_("Never the From header alone: our mail server's DKIM/SPF/DMARC result for the sender's "
                    "domain, a secret token [hotline:…] in the subject or body, or both."))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: object, editing: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if editing:
            del self.fields["address"]
        else:
            del self.fields["is_active"]

    def clean_address(self) -> str:
        return str(self.cleaned_data["address"]).strip().lower()
