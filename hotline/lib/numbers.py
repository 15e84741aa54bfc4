"""Numbers and percentages for people, in the active language: ``1,234`` / ``35.2%`` in English,
``1.234`` / ``35,2 %`` in Dutch, ``1 234`` / ``35,2 %`` in French (a no-break space before ``%``).

Machine exports (CSV, JSON) never go through here: they keep plain numbers.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.formats import number_format

NBSP = "\u00a0"


def count(value: int | float) -> str:
    """A count with the language's thousands separator."""
    return number_format(value, force_grouping=True)


def percent(share: float, *, decimals: int = 1, signed: bool = False) -> str:
    """``share`` (a fraction) as a percentage: ``0.352`` -> ``35.2%`` (en) or ``35,2 %`` (nl, fr)."""
    value = share * 100
    text = number_format(abs(value) if signed else value, decimal_pos=decimals, force_grouping=True)
    if signed:
        text = ("+" if value > 0 else "-" if value < 0 else "") + text
    language = (translation.get_language() or "en").split("-")[0]
    return f"{text}%" if language == "en" else f"{text}{NBSP}%"
