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

__all__ = ["InvalidTransition", "Transitions", "move", "move_update", "moved_rows", "sources"]


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
    rows, values = move_update(queryset, to, table=table, now=now, field=field, **changes)
    return moved_rows(rows.model, to, rows.update(**values), strict=strict)


def move_update(queryset: QuerySet[M], to: str, *, table: Transitions, now: datetime, field: str = "state",
                **changes: Any) -> tuple[QuerySet[M], dict[str, Any]]:
    """:func:`move` as the rows to update and the values to write (for an UPDATE compiled once:
    ``hotline.lib.prepared.update``); check the count with :func:`moved_rows`."""
    allowed = sources(table, to)
    if not allowed:
        raise InvalidTransition(f"{queryset.model.__name__}: nothing may move to {to!r}")
    stamps = {stamp for frm in allowed if (stamp := table[(frm, to)])}
    return queryset.filter(**{f"{field}__in": allowed}), {field: to, **dict.fromkeys(stamps, now), **changes}


def moved_rows(model: type[Any], to: str, moved: int, *, strict: bool = True) -> int:
    """``moved``, or with ``strict`` :class:`InvalidTransition` when no row moved."""
    if strict and moved == 0:
        raise InvalidTransition(f"{model.__name__}: no row in a state that may move to {to!r}")
    return moved
