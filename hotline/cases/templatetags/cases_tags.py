"""Outcome and dismissal-reason labels in the active language (NL, FR or EN)."""

from __future__ import annotations

from django import template

from hotline.cases import codes

register = template.Library()


@register.filter
def outcome_label(code: str | None) -> str:
    return codes.outcome_label(code) if code else ""


@register.filter
def reason_label(code: str | None) -> str:
    return codes.reason_label(code) if code else ""
