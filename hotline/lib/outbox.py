"""One outbox: the fields and the retry-or-fail cycle every outbound message row shares.

A row exists, with its idempotency key, before anything is sent; a worker claims due rows with
``hotline.lib.claim``, sends, and records the outcome. A failed attempt is retried with one back-off
policy (doubling minutes from 2, up to the row type's cap) until the row type's attempts are used up
or the error says retrying cannot help; then the row fails for good. Subclasses add their ``state``
column, its transition table and the states a retry and a give-up move to.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.db import models

from hotline.lib import states


def backoff(attempts: int, *, cap: timedelta) -> timedelta:
    """The wait before the next attempt: 2, 4, 8 … minutes after attempts 1, 2, 3 …, at most ``cap``."""
    return min(timedelta(minutes=2 ** min(max(attempts, 1), 30)), cap)


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
    state_field: ClassVar[str] = "state"

    class Meta:
        abstract = True

    def move(self, to: str, *, now: datetime, strict: bool = True, **changes: Any) -> int:
        """Move this row to ``to`` along the row type's transition table (see ``hotline.lib.states.move``)."""
        return states.move(type(self)._default_manager.filter(pk=self.pk), to, table=self.transitions, now=now,
                           field=self.state_field, strict=strict, **changes)

    def retry_or_fail(self, error: str, *, retry: bool, max_attempts: int, now: datetime) -> bool:
        """Record a failed attempt: due again after the back-off, or failed for good when ``retry`` is False or
        the attempts are used up. Returns whether it gave up."""
        give_up = not retry or self.attempts >= max_attempts
        self.move(self.failed_state if give_up else self.retry_state, now=now, last_error=error[:2000],
                  next_attempt_at=None if give_up else now + backoff(self.attempts, cap=self.backoff_cap))
        return give_up
