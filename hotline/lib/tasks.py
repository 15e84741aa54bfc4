"""One-off jobs (the Django tasks API, ``django-tasks-db`` backend) run inside ``hotline worker``, one per
step, so a deployment needs no extra process for them. ``run_one_job`` (the worker's ``steps.tasks_step``)
claims a ready job with the backend's own lock and claim, then runs it the way ``manage.py db_worker`` does
(success or failure recorded on the row).
"""

from __future__ import annotations

import os
import socket

from django.conf import settings

BACKEND = "default"


def _uses_database_backend() -> bool:
    return str(settings.TASKS.get(BACKEND, {}).get("BACKEND", "")).startswith("django_tasks_db.")


def run_one_job() -> bool:
    """Run one ready job of the database backend; False when there is none (or another backend is set)."""
    if not _uses_database_backend():
        return False
    from django_tasks_db.management.commands.db_worker import Worker  # needs the app registry loaded
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    worker_id = f"{socket.gethostname()[:40]}-{os.getpid()}"
    ready = DBTaskResult.objects.ready().filter(backend_name=BACKEND)
    with exclusive_transaction(ready.db):
        job = ready.get_locked()
        if job is None:
            return False
        job.claim(worker_id)
    Worker(queue_names=["*"], interval=0, batch=True, backend_name=BACKEND, startup_delay=False, max_tasks=1,
           worker_id=worker_id, excluded_queue_names=[]).run_task(job)
    return True
