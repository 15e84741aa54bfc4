"""The self-referral page's form: only hashes (filled in by the page's script), an optional e-mail."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from hotline.selfreferral.models import normalize_code
from hotline.selfreferral.services import Submission, SubmissionError, parse_submission


class SelfReferralForm(forms.Form):
    # The page's script writes the hashes here; the file chooser has no name, so no file is ever sent.
    hashes = forms.CharField(widget=forms.HiddenInput, max_length=200_000)
    confirm_own = forms.BooleanField(
        label=_("These are images or videos of me, taken when I was under 18."), required=True)
    email = forms.EmailField(
        label=_("Your e-mail (optional)"), required=False, max_length=254,
        help_text=_("Only if you want us to be able to reach you. We store it encrypted. Without it, your code "
                    "is the only way to follow your request."))

    def clean_hashes(self) -> Submission:
        try:
            return parse_submission(self.cleaned_data["hashes"])
        except SubmissionError as exc:
            raise forms.ValidationError(str(exc)) from exc


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Your code"), max_length=40,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))

    def clean_code(self) -> str:
        code = normalize_code(self.cleaned_data["code"])
        if not code:
            raise forms.ValidationError(_("This is not a code we give out (it looks like SR-XXXX-XXXX-XXXX-XXXX)."))
        return code


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Why not accepted"), max_length=1000, widget=forms.TextInput(
        attrs={"placeholder": _("Why not accepted"), "aria-label": _("Why not accepted")}))
