"""Login, second-factor and re-authentication forms."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from hotline.accounts.models import ClientKind, Role


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


# --- administration -------------------------------------------------------------------------------


def _role_choices() -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in Role.choices]


class NewUserForm(forms.Form):
    username = forms.RegexField(label=_("Username"), max_length=150, regex=r"^[\w.@+-]+\Z",
                                help_text=_("Letters, digits and . @ + - _ only."))
    email = forms.EmailField(label=_("E-mail"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or e-mail"), required=False, max_length=100)
    role = forms.ChoiceField(label=_("Role"), required=False, choices=lambda: [("", _("Any")), *_role_choices()])
    active = forms.ChoiceField(label=_("Account"), required=False, choices=[
        ("", _("Any")), ("yes", _("Active")), ("no", _("Deactivated"))])


class NewClientForm(forms.Form):
    name = forms.CharField(label=_("Organisation"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=ClientKind.choices)
    country = forms.RegexField(label=_("Country (two letters)"), required=False, regex=r"^[A-Za-z]{2}\Z")
