"""The worker steps of the infrastructure in ``hotline.lib`` (``HOTLINE_WORKER_STEPS``): one-off jobs and
rate-limit counters. They live here, not in a domain, because no domain owns them: the jobs queue serves
any domain (today the annual report of ``stats``), the counters every public form and API."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from hotline.lib import ratelimit, tasks


def tasks_step(*, now: datetime | None = None) -> bool:
    """Run one ready one-off job (Django tasks, database backend). ``now`` is accepted for the common step
    signature and not used: a job is ready by the backend's own clock."""
    return tasks.run_one_job()


def ratelimit_purge_step(*, now: datetime | None = None) -> bool:
    """Delete one batch of rate-limit counters whose window ended. True when it deleted any."""
    return ratelimit.purge_expired(now=now or timezone.now())
