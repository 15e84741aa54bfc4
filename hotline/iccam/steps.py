"""The connector's worker steps (``HOTLINE_WORKER_STEPS``): pull every minute, push as our cases move.

Both do nothing while the connector is off (no ``HOTLINE_ICCAM_*`` settings) or while ICCAM has asked us
to wait (429 with Retry-After). Each returns whether it found work, so tests call exactly one step.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hotline.audit.services import SYSTEM, record
from hotline.iccam import conf, pull, push, services
from hotline.iccam.client import IccamError, IccamSession
from hotline.iccam.codes import Table
from hotline.iccam.models import ENDPOINTS, Push, PushKind, PushState
from hotline.lib import claim, states

log = logging.getLogger("hotline.iccam")
PULL_LEASE = timedelta(minutes=10)


def pull_step(*, now: datetime | None = None) -> bool:
    """Once per ``HOTLINE_ICCAM_PULL_SECONDS``: import ICCAM's unreferenced content, write our reference back."""
    config = conf.config()
    now = now or timezone.now()
    if config is None or not services.claim_pull(now=now, interval=conf.pull_interval(), lease=PULL_LEASE):
        return False
    since = now - conf.lookback()
    try:
        with IccamSession(config) as session:
            imported = pull.pull(session, now=now, since=since)
    except IccamError as exc:
        if exc.retry_after:
            services.pause(now=now, seconds=exc.retry_after)
        services.finish_pull(now=now, since=since, error=str(exc))
        log.warning("ICCAM pull: %s", exc)
        return True
    except Exception as exc:
        services.finish_pull(now=now, since=since, error=f"{type(exc).__name__}: {exc}")
        raise
    services.finish_pull(now=now, since=since)
    log.info("ICCAM pull: %d new items", imported)
    return True


def push_step(*, now: datetime | None = None, limit: int = 20) -> bool:
    """Queue the writes our records call for, then send up to ``limit`` due ones, each claimed alone."""
    config = conf.config()
    now = now or timezone.now()
    if config is None:
        return False
    table = Table()
    found = push.observe(table, analyst=config.username, country=config.country, now=now) > 0
    if services.paused(now):
        return found
    row = claim_push(now)
    if row is None:
        return found
    with IccamSession(config) as session:  # logs in only when there is something to send
        for sent in range(limit):
            push.send(session, row, country=config.country, now=now)
            if sent + 1 >= limit or services.paused(now) or (row := claim_push(now)) is None:
                break
    return True


def claim_push(now: datetime) -> Push | None:
    """One due row, first in its lane, moved to ``sending`` with a lease (SKIP LOCKED on PostgreSQL, a
    conditional UPDATE elsewhere). A report creation whose sender died mid-send becomes uncertain."""
    with transaction.atomic():
        row = claim.claim_one(
            Push.objects.due(now).order_by("next_attempt_at", "pk"), match=("state", "attempts", "next_attempt_at"),
            write=lambda rows: states.move(rows, PushState.SENDING, table=Push.transitions, now=now, strict=False,
                                           next_attempt_at=now + conf.send_lease(), attempts=F("attempts") + 1))
        if row is None:
            return None
        cut_off = row.state == PushState.SENDING  # the previous sender died mid-send
        if cut_off:
            record(SYSTEM, "iccam.push_lease_expired", row, now=now, after={"write": row.dedup})
    row.refresh_from_db()
    if cut_off and row.kind == PushKind.REPORT:
        services.push_uncertain(row, now=now)
        return claim_push(now)
    return row


def load_codes(*, now: datetime | None = None) -> int:
    """Refresh the code table from ICCAM's reference endpoints (the ``hotline iccam codes`` command)."""
    config = conf.config()
    if config is None:
        raise IccamError("the ICCAM connector is not configured", retry=False)
    with IccamSession(config) as session:
        lists = {field: session.get(path) or [] for field, path in ENDPOINTS.items()}
    return services.load_codes(lists, now=now or timezone.now())
