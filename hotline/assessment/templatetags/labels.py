"""``{{ item.verdict|label:"verdict" }}``, ``{{ event.action|action_label }}``, ``{{ event.after|event_details }}``."""

from __future__ import annotations

from typing import Any

from django import template

from hotline.assessment import labels
from hotline.assessment.codes import UNAVAILABLE_REASONS
from hotline.assessment.forms import SHOWN_FOR

register = template.Library()


@register.filter
def label(code: object, kind: str) -> str:
    return labels.label(code, kind)


@register.filter
def action_label(action: str) -> str:
    return labels.action_label(action)


@register.filter
def actor_name(actor_label: str) -> str:
    return labels.actor_name(actor_label)


@register.filter
def event_details(after: Any) -> str:
    return labels.event_details(after)


@register.filter
def reason_for(code: object) -> str:
    """The verdict a reason belongs to: the page shows only the reasons of the chosen verdict."""
    return "unreachable" if code in UNAVAILABLE_REASONS else "not_illegal"


@register.filter
def shown_for(name: str) -> str:
    return SHOWN_FOR.get(name, "")
