"""Objects for the access matrix (core/tests/test_access_matrix.py): the pk a takedown route takes."""

from __future__ import annotations

from django.utils import timezone

from hotline.audit.services import SYSTEM
from hotline.reports.models import Item
from hotline.takedown.models import Notice
from hotline.takedown.services import NewRequest, create_info_request
from hotline.tracing.models import AbuseContact, Provider


def access_object(route: str, item: Item) -> int:
    """Notice routes take a notice, request routes a request; the item route the (illegal) item."""
    now = timezone.now()
    if route == "takedown:notice":
        provider, _ = Provider.objects.get_or_create(name="Matrix Host")
        contact = AbuseContact.objects.create(provider=provider, email="abuse@matrix-host.example")
        return Notice.objects.create(kind="first", contact=contact, provider=provider, channel="email",
                                     recipient=contact.email, language="en", created_at=now, next_attempt_at=now).pk
    if route.startswith("takedown:request"):
        return create_info_request(NewRequest(
            kind="preservation", on_behalf_of="hotline", company_name="Matrix Co", email="legal@matrix.example",
            subject_type="url", subject=item.canonical_url, legal_basis="test"), actor=SYSTEM, now=now).pk
    return item.pk
