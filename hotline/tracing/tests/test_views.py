"""Pages: the provider directory (read, edit, import) and an item's trace history, role by role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from hotline.accounts.models import User
from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM
from hotline.reports.models import Item
from hotline.tracing.conf import TraceConfig
from hotline.tracing.importer import load_cdns
from hotline.tracing.models import Provider, Trace, TraceDue
from hotline.tracing.services import trace_item

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROLES = ("analyst", "senior_analyst", "police_liaison", "manager", "admin", "outsider")


def _status(client: Client, url: str, method: str = "get", **data: Any) -> int:
    response = client.post(url, data) if method == "post" else client.get(url)
    if response.status_code == 302 and "/login/" in response.headers.get("Location", ""):
        return 401
    return int(response.status_code)


def test_provider_pages_by_role(personas: dict[str, User], login: Callable[[User], Client]) -> None:
    load_cdns(actor=SYSTEM)
    provider = Provider.objects.get(name="Cloudflare")
    pages = {reverse("tracing:provider", args=[provider.pk]): {"analyst", "senior_analyst", "manager", "admin"},
             reverse("tracing:provider_edit", args=[provider.pk]): {"manager", "admin"}}
    for url, allowed in pages.items():
        granted = {role for role in ROLES if _status(login(personas[role]), url) == 200}
        assert granted == allowed, url
    assert _status(Client(), reverse("tracing:providers")) == 401
    page = login(personas["analyst"]).get(reverse("tracing:provider", args=[provider.pk])).content.decode()
    assert "abuse@cloudflare.com" in page and "AS13335" in page and "Edit" not in page


def test_a_manager_creates_and_edits_a_provider(personas: dict[str, User], login: Callable[[User], Client]) -> None:
    client = login(personas["manager"])
    form = {"name": "New Host", "country": "be", "networks": "AS64600\n198.51.100.0/24",
            "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "0", "contacts-MIN_NUM_FORMS": "0",
            "contacts-MAX_NUM_FORMS": "50", "contacts-0-email": "abuse@new.example", "contacts-0-channel": "email",
            "contacts-0-language": "nl", "contacts-0-repeat_hours": "12"}
    response = client.post(reverse("tracing:provider_new"), form)
    provider = Provider.objects.get(name="New Host")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/providers/{provider.pk}/")
    assert provider.country == "BE"
    assert sorted(str(n) for n in provider.networks.all()) == ["New Host: 198.51.100.0/24", "New Host: AS64600"]
    contact = provider.contacts.get()
    assert (contact.email, contact.language, contact.repeat_hours) == ("abuse@new.example", "nl", 12)
    bad = client.post(reverse("tracing:provider_edit", args=[provider.pk]), {
        **form, "networks": "AS64600\n198.51.100.7/24", "contacts-0-email": ""})
    assert bad.status_code == 200 and "not an address range" in bad.content.decode()
    deleted = client.post(reverse("tracing:provider_edit", args=[provider.pk]), {
        **form, "networks": "", "contacts-INITIAL_FORMS": "1", "contacts-0-id": str(contact.pk),
        "contacts-0-DELETE": "on"})
    assert deleted.status_code == 302
    assert (provider.networks.count(), provider.contacts.count()) == (0, 0)
    assert AuditEvent.objects.filter(action__in=["provider.created", "provider.updated"],
                                     actor_label="user:mona").count() == 2


def test_an_upload_reports_line_errors_and_keeps_the_rest(personas: dict[str, User],
                                                          login: Callable[[User], Client]) -> None:
    upload = SimpleUploadedFile("providers.csv", b"name,country,asns,abuse_email\n"
                                b"Uploaded Host,NL,AS64700,abuse@uploaded.example\nBroken,NLD,,\n")
    page = login(personas["admin"]).post(reverse("tracing:import"), {"file": upload, "format": "auto"})
    text = page.content.decode()
    assert page.status_code == 200 and "1 created, 0 updated, 1 error." in text
    assert "line 3" in text and "country" in text
    assert Provider.objects.filter(name="Uploaded Host").exists()
    assert _status(login(personas["analyst"]), reverse("tracing:import"), "post") == 403


def test_the_trace_page_shows_history_to_readers_and_police_for_illegal_items_only(
        personas: dict[str, User], login: Callable[[User], Client], assessed_item: Callable[..., Item],
        config: TraceConfig) -> None:
    load_cdns(actor=SYSTEM)
    illegal = assessed_item("www.behind-cdn.sim.test", "baseline")
    other = assessed_item("plain.sim.test", "other_harm")
    trace_item(illegal, now=NOW, config=config)
    trace_item(other, now=NOW, config=config)
    page = login(personas["police_liaison"]).get(reverse("tracing:item", args=[illegal.pk])).content.decode()
    assert "Behind CDN Cloudflare" in page and "edge.cdn.sim.test" in page and "104.16.1.1" in page
    assert "Record origin" not in page  # police read, analysts act
    assert _status(login(personas["police_liaison"]), reverse("tracing:item", args=[other.pk])) == 404
    assert _status(login(personas["manager"]), reverse("tracing:item", args=[other.pk])) == 200
    assert _status(login(personas["admin"]), reverse("tracing:item", args=[other.pk])) == 403


def test_an_analyst_records_an_origin_and_asks_for_a_re_trace(
        personas: dict[str, User], login: Callable[[User], Client], assessed_item: Callable[..., Item],
        config: TraceConfig, settings: Any, sim_rdap: Any) -> None:
    settings.HOTLINE_RDAP_BASE_URL = sim_rdap.base_url
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    load_cdns(actor=SYSTEM)
    item = assessed_item("www.behind-cdn.sim.test")
    trace_item(item, now=NOW, config=config)
    client = login(personas["analyst"])
    response = client.post(reverse("tracing:origin", args=[item.pk]), {"address": "10.0.0.1"}, follow=True)
    assert "not a public address" in response.content.decode()
    client.post(reverse("tracing:origin", args=[item.pk]), {"address": "95.216.0.1"})
    latest = Trace.objects.latest_for(item.pk)
    assert latest is not None and (latest.origin_address, latest.country) == ("95.216.0.1", "DE")
    client.post(reverse("tracing:retrace", args=[item.pk]))
    assert TraceDue.objects.filter(item=item).exists()
    assert _status(login(personas["police_liaison"]), reverse("tracing:retrace", args=[item.pk]), "post") == 403
