"""One outbox: the fields, the claim and the retry-or-fail cycle every outbound message row shares.

A row exists, with its idempotency key, before anything is sent; a worker claims due rows
(:meth:`OutboxRow.claim_due`: a lease, the attempt counted and the move to the sending state along the
row type's transition table, through ``hotline.lib.claim``), sends, and records the outcome. A failed
attempt is retried with one back-off policy (:func:`backoff`: doubling from the row type's base, up to
its cap) until the row type's attempts are used up or the error says retrying cannot help; then the row
fails for good. Subclasses add their ``state`` column, its transition table and the states a claim, a
retry and a give-up move to.

Row types: ``takedown.Notice``, ``takedown.RequestMessage``, ``routing.Referral``,
``partners.OutboundMessage`` (see docs/architecture.md, "The outbox").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self, cast

from django.db import models
from django.db.models import F

from hotline.lib import claim, states


def backoff(attempts: int, *, cap: timedelta, base: timedelta = timedelta(minutes=2)) -> timedelta:
    """The one back-off policy: the wait before the next attempt is ``base`` after attempt 1, doubling with
    each further attempt, at most ``cap``. With the default base: 2, 4, 8 … minutes after attempts 1, 2, 3 …"""
    return min(base * (1 << min(max(attempts, 1) - 1, 30)), cap)


class OutboxRow(models.Model):
    key = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    # Queued: when it may be sent; sending: when the sender's lease ends.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    transitions: ClassVar[states.Transitions]
    retry_state: ClassVar[str]
    failed_state: ClassVar[str]
    backoff_cap: ClassVar[timedelta]
    backoff_base: ClassVar[timedelta] = timedelta(minutes=2)
    state_field: ClassVar[str] = "state"
    # The state a claimed row is in while it is sent: a claim moves it there along the transition table, and
    # a failure is recorded only for a row still there. None: a claim only leases the row (no state change).
    sending_state: ClassVar[str | None] = None

    class Meta:
        abstract = True

    def move(self, to: str, *, now: datetime, strict: bool = True, **changes: Any) -> int:
        """Move this row to ``to`` along the row type's transition table (see ``hotline.lib.states.move``)."""
        return states.move(type(self)._default_manager.filter(pk=self.pk), to, table=self.transitions, now=now,
                           field=self.state_field, strict=strict, **changes)

    @classmethod
    def claim_due(cls, queryset: models.QuerySet[Self], *, now: datetime, lease: timedelta, limit: int,
                  match: Sequence[str] = (), where: Mapping[str, Any] | None = None, scan: int = 3,
                  changes: Mapping[str, Any] | None = None, of: Sequence[str] = ()) -> list[Self]:
        """Claim up to ``limit`` rows of the ordered ``queryset`` (due rows of this type): their lease runs
        until ``now + lease``, the attempt is counted and, with a ``sending_state``, they move there along
        the transition table, in one UPDATE with ``changes`` (see ``hotline.lib.claim.claim_due`` for
        ``match``, ``where``, ``scan`` and ``of``: the tables whose rows are locked when ``queryset`` joins
        others, ``select_related``). The rows come back as they were read, before the claim."""
        values = {"next_attempt_at": now + lease, "attempts": F("attempts") + 1, **dict(changes or {})}
        if cls.sending_state is not None:  # only rows the table lets into sending are candidates (and locked)
            queryset = queryset.filter(**{f"{cls.state_field}__in": states.sources(cls.transitions, cls.sending_state)})
            if cls._claim_stamps():  # the move stamps the time it was claimed
                values["claimed at"] = now
        return claim.claim_due(queryset, limit=limit, match=match, where=where, scan=scan, of=of,
                               move=cls._claim_move, values=values, name="outbox")

    @classmethod
    def claimable(cls, queryset: models.QuerySet[Self]) -> models.QuerySet[Self]:
        """``queryset`` narrowed to the rows a claim may take, as :meth:`claim_due` narrows it: with a
        ``sending_state``, those the transition table lets move there."""
        if cls.sending_state is None:
            return queryset
        return queryset.filter(**{f"{cls.state_field}__in": states.sources(cls.transitions, cls.sending_state)})

    @classmethod
    def claim_rows(cls, rows: list[Self], *, now: datetime, lease: timedelta, limit: int, match: Sequence[str] = (),
                   where: Mapping[str, Any] | None = None) -> list[Self]:
        """:meth:`claim_due` for candidates the caller has read in the current transaction (a query compiled once,
        built from :meth:`claimable` as ``hotline.lib.claim.claim_rows`` says): the same UPDATE, the same rows
        claimed. The rows come back as they were read, before the claim."""
        values: dict[str, Any] = {"next_attempt_at": now + lease, "attempts": F("attempts") + 1}
        if cls.sending_state is not None and cls._claim_stamps():
            values["claimed at"] = now
        return claim.claim_rows(cls, rows, limit=limit, match=match, where=where, move=cls._claim_move, values=values,
                                name="outbox")

    @classmethod
    def _claim_stamps(cls) -> bool:
        """Whether the move to the sending state stamps a time field."""
        sending = cast(str, cls.sending_state)
        return any(cls.transitions[(frm, sending)] for frm in states.sources(cls.transitions, sending))

    @classmethod
    def _claim_move(cls, rows: models.QuerySet[Self], values: Mapping[str, Any]) -> tuple[models.QuerySet[Self],
                                                                                          dict[str, Any]]:
        """A claim's write (``claim.claim_due``'s ``move``, compiled once): the lease and the attempt counted,
        and with a ``sending_state`` the move there along the transition table, stamped with ``claimed at``."""
        written = dict(values)
        now = written.pop("claimed at", None)
        if cls.sending_state is None:
            return rows, written
        return states.move_update(rows, cls.sending_state, table=cls.transitions, now=now, field=cls.state_field,
                                  **written)

    def as_claimed(self, *, now: datetime, lease: timedelta) -> Self:
        """This row, as returned by :meth:`claim_due` (read before the claim), set to what the claim wrote without
        ``changes``: the lease, the attempt counted and the sending state. No read-back is needed: the values read
        still held when it was claimed (the row was locked on PostgreSQL, or matched by SQLite's conditional
        UPDATE inside the write transaction). Not a state change of its own: the claim's move made it."""
        self.next_attempt_at, self.attempts = now + lease, self.attempts + 1
        if self.sending_state is not None:
            setattr(self, self.state_field, self.sending_state)
        return self

    @classmethod
    def retry_policy(cls) -> tuple[timedelta, timedelta]:
        """(base, cap) of the one back-off policy for this row type: its class attributes ``backoff_base``
        and ``backoff_cap``; a row type whose operators tune them in settings reads them here."""
        return cls.backoff_base, cls.backoff_cap

    def retry_delay(self) -> timedelta:
        """The wait before the next attempt after ``attempts`` failed ones (:func:`backoff`)."""
        base, cap = self.retry_policy()
        return backoff(self.attempts, base=base, cap=cap)

    def retry_or_fail(self, error: str, *, retry: bool, max_attempts: int, now: datetime) -> bool:
        """Record a failed attempt: due again after the back-off, or failed for good when ``retry`` is False or
        the attempts are used up. Returns whether it gave up."""
        give_up = self._record_failure(error, retry=retry, max_attempts=max_attempts, now=now, strict=True)
        assert give_up is not None  # strict: a row that cannot move raises InvalidTransition
        return give_up

    def retry_or_fail_unless_done(self, error: str, *, retry: bool, max_attempts: int,
                                  now: datetime) -> bool | None:
        """:meth:`retry_or_fail` for a row another worker may have finished meanwhile (it took the row over when
        this worker's lease ran out): None, and nothing written, when the row has left its sending state."""
        return self._record_failure(error, retry=retry, max_attempts=max_attempts, now=now, strict=False)

    def _record_failure(self, error: str, *, retry: bool, max_attempts: int, now: datetime,
                        strict: bool) -> bool | None:
        give_up = not retry or self.attempts >= max_attempts
        rows = type(self)._default_manager.filter(pk=self.pk)
        if self.sending_state is not None:
            rows = rows.filter(**{self.state_field: self.sending_state})
        moved = states.move(rows, self.failed_state if give_up else self.retry_state, table=self.transitions,
                            now=now, field=self.state_field, strict=strict, last_error=error[:2000],
                            next_attempt_at=None if give_up else now + self.retry_delay())
        return give_up if moved else None
