"""The verdict codes an item carries, and which of them mean illegal. They live here, below every domain that
reads ``Item.verdict`` (tracing, routing, assessment …), so no domain keeps its own copy of the rule."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Verdict(models.TextChoices):
    BASELINE = "baseline", _("Baseline (illegal internationally)")
    NATIONAL = "national", _("Illegal under national law")
    NOT_ILLEGAL = "not_illegal", _("Not illegal")
    UNREACHABLE = "unreachable", _("Unreachable / content not found")
    OTHER_HARM = "other_harm", _("Other harm (not CSAM)")


ILLEGAL_VERDICTS = frozenset({Verdict.BASELINE, Verdict.NATIONAL})
