"""Notice outbox throughput: claim a due notice and record its outcome, the hand-written way the code had
before issue 20 (baseline, copied here), the first outbox step (claim_one writing the state by hand, copied
here) and the outbox as it is (takedown.services.sending.claim_notice: OutboxRow.claim_due moves the notice to
``sending`` along its transition table; move / retry_or_fail record the outcome), in the same run on the
same rows.

    .venv/bin/python bench/notice_outbox.py [--notices 2000] [--rounds 3] [--database postgres://...]

Rendering and sending are left out (the same code on both sides): this measures what issue 20 changed.
Every tenth notice fails and is queued for a retry, the rest are sent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def setup_django(database: str) -> None:
    scratch = tempfile.mkdtemp(prefix="hotline-bench-outbox-")
    if database.startswith("postgres"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from intake_throughput import scratch_database

        os.environ["DATABASE_URL"] = scratch_database(database)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
    os.environ |= {"DJANGO_SETTINGS_MODULE": "hotline.settings_test", "HOTLINE_STORE_ROOT": f"{scratch}/store",
                   "HOTLINE_LOG_LEVEL": "ERROR"}
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def old_cycle(now: datetime, number: int) -> bool:
    """The pre-outbox claim_notice and the plain state writes of _sent / _failed."""
    from django.db import connection, transaction
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce

    from hotline.takedown import conf
    from hotline.takedown.models import Notice, NoticeState

    with transaction.atomic():
        due = Notice.objects.due(now).order_by("next_attempt_at", "pk")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        notice = due.first()
        if notice is None:
            return False
        won = Notice.objects.filter(pk=notice.pk, state=notice.state, attempts=notice.attempts,
                                    next_attempt_at=notice.next_attempt_at).update(
            state=NoticeState.SENDING, next_attempt_at=now + conf.send_lease(), attempts=F("attempts") + 1)
        if won != 1:
            return True
    notice.refresh_from_db()
    with transaction.atomic():
        if number % 10 == 0:
            delay = timedelta(minutes=min(2 ** max(notice.attempts, 1), 6 * 60))
            Notice.objects.filter(pk=notice.pk).update(state=NoticeState.QUEUED, last_error="refused",
                                                       next_attempt_at=now + delay)
        else:
            Notice.objects.filter(pk=notice.pk).update(
                state=NoticeState.SENT, sent_at=Coalesce("sent_at", Value(now)), next_attempt_at=None, last_error="")
    return True


def first_cycle(now: datetime, number: int) -> bool:
    """The first outbox step: the claim helper with the state written by hand, then move / retry_or_fail."""
    from django.db import transaction
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce

    from hotline.lib import claim
    from hotline.takedown import conf
    from hotline.takedown.models import Notice, NoticeState

    notice = claim.claim_one(Notice.objects.due(now).order_by("next_attempt_at", "pk"),
                             match=("state", "attempts", "next_attempt_at"),
                             update={"state": NoticeState.SENDING, "next_attempt_at": now + conf.send_lease(),
                                     "attempts": F("attempts") + 1})
    if notice is None:
        return False
    notice.refresh_from_db()
    with transaction.atomic():
        if number % 10 == 0:
            notice.retry_or_fail("refused", retry=True, max_attempts=99, now=now)
        else:
            notice.move(NoticeState.SENT, now=now, sent_at=Coalesce("sent_at", Value(now)), next_attempt_at=None,
                        last_error="")
    return True


def outbox_cycle(now: datetime, number: int) -> bool:
    """The outbox: the notice worker's own claim (along the transition table), move, retry_or_fail."""
    from django.db import transaction
    from django.db.models import Value
    from django.db.models.functions import Coalesce

    from hotline.takedown.models import NoticeState
    from hotline.takedown.services import claim_notice

    notice = claim_notice(now)
    if notice is None:
        return False
    with transaction.atomic():
        if number % 10 == 0:
            notice.retry_or_fail("refused", retry=True, max_attempts=99, now=now)
        else:
            notice.move(NoticeState.SENT, now=now, sent_at=Coalesce("sent_at", Value(now)), next_attempt_at=None,
                        last_error="")
    return True


def seed(count: int, now: datetime) -> None:
    from hotline.takedown.models import Notice
    from hotline.tracing.models import AbuseContact, Provider

    provider = Provider.objects.create(name="Bench Hosting")
    contact = AbuseContact.objects.create(provider=provider, email="abuse@bench-hosting.example")
    Notice.objects.bulk_create([
        Notice(kind="first", contact=contact, provider=provider, channel="email", recipient=contact.email,
               language="en", state="queued", created_at=now, next_attempt_at=now) for _ in range(count)])


def reset(now: datetime) -> None:
    from hotline.takedown.models import Notice

    Notice.objects.update(state="queued", next_attempt_at=now, attempts=0, last_error="", sent_at=None)


def timed(cycle: Callable[[datetime, int], bool], now: datetime) -> tuple[int, float]:
    reset(now)
    started, done = time.perf_counter(), 0
    while cycle(now, done):
        done += 1
    return done, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="", help="DATABASE_URL (default: a scratch SQLite file)")
    args = parser.parse_args()
    setup_django(args.database)
    from django.db import connection

    now = datetime(2026, 3, 2, 9, 0).astimezone()
    seed(args.notices, now)
    best: dict[str, float] = {}
    variants: list[tuple[str, Callable[[datetime, int], bool]]] = [
        ("old", old_cycle), ("first", first_cycle), ("new", outbox_cycle)]
    for round_ in range(args.rounds):
        for name, cycle in variants if round_ % 2 == 0 else variants[::-1]:  # alternate who goes first
            done, seconds = timed(cycle, now)
            assert done == args.notices, (name, done)
            best[name] = max(best.get(name, 0.0), done / seconds)
    print(f"{connection.vendor}: {args.notices} notices claimed and recorded, best of {args.rounds} rounds")
    print(f"  hand-written (before issue 20):        {best['old']:8.0f} notices/s")
    print(f"  claim_one, state written by hand:      {best['first']:8.0f} notices/s")
    print(f"  outbox (claim_due along the table):    {best['new']:8.0f} notices/s")
    print(f"  ratio outbox / hand-written:           {best['new'] / best['old']:8.2f}")
    print(f"  ratio outbox / claim_one by hand:      {best['new'] / best['first']:8.2f}")


if __name__ == "__main__":
    main()
