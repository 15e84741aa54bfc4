"""State changes checked against a transition table, inside one conditional UPDATE.

A table maps ``(from, to)`` to the timestamp field the move stamps (or None). :func:`move` writes
``to`` only to rows whose state is one the table allows to move there, so two writers racing on the
same row cannot take it through a transition the table does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)
Transitions = Mapping[tuple[str, str], str | None]

__all__ = ["InvalidTransition", "Transitions", "move", "sources"]


class InvalidTransition(Exception):
    """A status change that the transition table does not allow."""


def sources(table: Transitions, to: str) -> list[str]:
    """The states the table allows to move to ``to``."""
    return sorted({frm for frm, target in table if target == to})


def move(queryset: QuerySet[M], to: str, *, table: Transitions, now: datetime, field: str = "state",
         strict: bool = True, **changes: Any) -> int:
    """Move the rows of ``queryset`` that may go to ``to`` there, stamping the transition's time field
    with ``now`` (unless ``changes`` sets it) and writing ``changes`` in the same UPDATE. Returns the
    number of rows moved; with ``strict`` a move that hits no row raises :class:`InvalidTransition`."""
    allowed = sources(table, to)
    if not allowed:
        raise InvalidTransition(f"{queryset.model.__name__}: nothing may move to {to!r}")
    stamps = {stamp for frm in allowed if (stamp := table[(frm, to)])}
    values: dict[str, Any] = {field: to, **dict.fromkeys(stamps, now), **changes}
    moved = queryset.filter(**{f"{field}__in": allowed}).update(**values)
    if strict and moved == 0:
        raise InvalidTransition(f"{queryset.model.__name__}: no row in a state that may move to {to!r}")
    return moved
