"""The trusted flagger's transparency report (DSA Art. 22): notices sent in the period by provider, by type
of illegal content, and the action taken with the time to action; as a page, CSV, HTML file and PDF."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.stats import pdf
from hotline.stats.filters import Filters
from hotline.stats.tests.history import NOW, History, at
from hotline.stats.transparency import tables
from hotline.takedown.models import Notice, NoticeItem
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db
URL = reverse("stats:transparency")
YEAR_2025 = Filters(first=datetime(2025, 1, 1).date(), last=datetime(2025, 12, 31).date())
H, D = timedelta(hours=1), timedelta(days=1)


def notice(history: History, provider: str, sent: datetime | None, *items: str, kind: str = "first",
           role: str = "", dropped: tuple[str, ...] = ()) -> Notice:
    target = history.providers[provider]
    contact, _ = AbuseContact.objects.get_or_create(provider=target, email=f"abuse@{provider.lower()}.example")
    made = Notice.objects.create(kind=kind, role=role, contact=contact, provider=target, channel="email",
                                 recipient=contact.email, language="en", state="sent" if sent else "queued",
                                 created_at=sent or NOW, sent_at=sent)
    for name in items + dropped:
        item = history.items[name]
        NoticeItem.objects.create(notice=made, item=item, takedown=item.takedown, url=item.canonical_url,
                                  added_at=made.created_at, dropped_at=made.created_at if name in dropped else None)
    return made


@pytest.fixture
def notices(history: History) -> History:
    i = history.items
    notice(history, "P1", i["A1"].first_reported_at + 5 * H, "A1")
    notice(history, "P1", at(2025, 2, 3), "A2", dropped=("A6",))  # A6 re-traced abroad before sending
    notice(history, "P1", i["A7"].first_reported_at + 2 * H, "A7")
    notice(history, "P2", i["A3"].first_reported_at + 3 * D + H, "A3")
    notice(history, "P3", i["A4"].first_reported_at + D, "A4")
    notice(history, "P3", i["A4"].first_reported_at + 2 * D, "A4", kind="repeat")
    notice(history, "P3", i["A4"].first_reported_at + 5 * D, "A4", kind="escalation", role="upstream")
    notice(history, "P2", at(2024, 12, 31, 23), "A3")  # the year before: not counted
    notice(history, "P2", None, "A3")  # never sent: not counted
    return history


def rows(name: str) -> list[dict[str, object]]:
    with time_machine.travel(NOW, tick=False):
        found = {table.name: table for table in tables(YEAR_2025, now=NOW)}
    return found[name].rows


def test_it_counts_the_notices_sent_in_the_period(notices: History) -> None:
    summary = {row["key"]: row["value"] for row in rows("dsa_summary")}
    assert summary == {"notices": 7, "to_hosting": 6, "escalations": 1, "first": 5, "repeat": 1, "items": 5,
                       "providers": 3}


def test_it_gives_each_provider_its_notices_and_times_to_removal(notices: History) -> None:
    found = [(r["provider"], r["notices"], r["items"], r["removed"], r["median"], r["p90"])
             for r in rows("dsa_providers")]
    # Quick Host: A1 removed 15 h after our notice, A2 2 d, A7 3 h (and back online later): median 15 h,
    # p90 = 15 h + 0.8 * (48 h - 15 h) = 41 h 24 min.
    assert found == [("Quick Host", 3, 3, 3, 15 * 3600, 149040), ("Silent Host", 3, 1, 0, None, None),
                     ("Slow Host", 1, 1, 1, 601200, 601200)]


def test_it_sorts_the_notices_by_type_of_illegal_content(notices: History) -> None:
    found = [(r["key"], r["notices"], r["items"]) for r in rows("dsa_content")]
    assert found == [("baseline/image", 5, 3), ("baseline/video", 1, 1), ("national/image", 1, 1)]


def test_it_says_what_the_provider_did_and_how_fast(notices: History) -> None:
    found = {r["key"]: (r["items"], r["median"]) for r in rows("dsa_actions")}
    assert found == {"removed": (3, 172800), "removed_back_online": (1, 10800), "acknowledged": (0, None),
                     "none": (1, None)}


Login = Callable[[User], Client]


def test_it_is_for_managers_and_exports_csv_html_and_pdf(notices: History, login: Login, manager: User,
                                                         analyst: User) -> None:
    assert login(analyst).get(URL).status_code == 403
    client = login(manager)
    with time_machine.travel(NOW, tick=False):
        page = client.get(URL, {"year": "2025"})
        assert page.status_code == 200 and "Quick Host" in page.content.decode()
        assert "sim.test" not in page.content.decode()  # no URL is published
        exported = client.get(URL, {"year": "2025", "format": "csv"})
        document = client.get("/nl" + URL, {"year": "2025", "format": "document"})
        assert client.get(URL, {"year": "2025", "format": "xml"}).status_code == 400
    lines = exported.content.decode().splitlines()
    assert lines[0] == "# dsa_summary" and lines[1] == "figure,key,value"
    summary = list(csv.DictReader(io.StringIO("\n".join(lines[1:9]))))
    assert {r["key"]: r["value"] for r in summary}["notices"] == "7"
    assert document["Content-Disposition"].endswith('.html"') and '<html lang="nl">' in document.content.decode()
    if pdf.available():
        with time_machine.travel(NOW, tick=False):
            typeset = client.get(URL, {"year": "2025", "format": "pdf"})
        assert typeset["Content-Type"] == "application/pdf" and typeset.content.startswith(b"%PDF-")
