"""The annual report made from the statistics menu: a manager starts a one-off job (django-tasks, database
backend), `hotline worker`'s tasks step typesets it, and the page offers the download. Audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.lib.steps import tasks_step
from hotline.stats import pdf
from hotline.stats.tests.history import NOW, History

pytestmark = pytest.mark.django_db
URL = reverse("stats:annual")
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
Login = Callable[[User], Client]


def test_it_refuses_a_language_or_year_it_cannot_make(login: Login, manager: User, tmp_path: Path) -> None:
    with override_settings(HOTLINE_REPORTS_DIR=str(tmp_path), TASKS=DATABASE_TASKS):
        client = login(manager)
        assert client.post(URL, {"year": "2025", "language": "de"}).status_code == 400
        assert client.post(URL, {"year": "1066", "language": "en"}).status_code == 400
        assert client.get(URL, {"file": "../../etc/passwd"}).status_code == 404
        assert not tasks_step()  # nothing was queued


@pytest.mark.slow
def test_a_manager_starts_the_report_and_downloads_it_when_the_worker_is_done(
        history: History, login: Login, manager: User, tmp_path: Path) -> None:
    if not pdf.available():
        pytest.skip(f"WeasyPrint cannot load (apt-get install {pdf.DEBIAN_PACKAGES})")
    with override_settings(HOTLINE_REPORTS_DIR=str(tmp_path), TASKS=DATABASE_TASKS), \
            time_machine.travel(NOW, tick=False):
        client = login(manager)
        started = client.post("/nl" + URL, {"year": "2025", "language": "nl"})
        assert started.status_code == 302
        waiting = client.get(started["Location"]).content.decode()
        assert 'data-status="READY"' in waiting and "annual-report-2025-nl.pdf" not in waiting
        assert tasks_step() and not tasks_step()  # one job, run once
        done = client.get(started["Location"]).content.decode()
        assert 'data-status="SUCCESSFUL"' in done
        link = re.search(r'href="(\?file=annual-report-2025-nl\.pdf)"', done)
        assert link is not None
        download = client.get(URL + link.group(1))
    assert download["Content-Type"] == "application/pdf" and download.content.startswith(b"%PDF-")
    assert (tmp_path / "annual-report-2025-nl.html").is_file()
    event = AuditEvent.objects.get(action="stats.annual_report_requested")
    assert event.after is not None and (event.after["year"], event.after["language"]) == (2025, "nl")
