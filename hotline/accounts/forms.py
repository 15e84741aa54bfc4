"""Login, second-factor and re-authentication forms."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    # One message for a wrong password, an unknown user and a locked account: no oracle.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter a correct username and password. After several failed attempts an account "
            "is locked for a while."
        ),
    }


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=40, strip=True,
        help_text=_("The 6-digit code from your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false",
                                      "autocapitalize": "off"}),
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=10, strip=True,
        help_text=_("The 6-digit code your authenticator app shows for this account."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class ReauthForm(CodeForm):
    password = forms.CharField(label=_("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                                                 "autofocus": True}))
    field_order = ["password", "code"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["code"].widget.attrs.pop("autofocus", None)
