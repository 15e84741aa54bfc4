"""Fixtures: a running simulated ICCAM and the settings that point the connector at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hotline.sim.iccam import SimIccam


@pytest.fixture
def sim_iccam() -> Iterator[SimIccam]:
    with SimIccam(country="BE") as sim:
        yield sim


@pytest.fixture
def iccam_on(sim_iccam: SimIccam, settings: Any) -> SimIccam:
    """The connector configured for the simulator (loopback allowed, as in every outbound test)."""
    for name, value in sim_iccam.environment().items():
        setattr(settings, name, value)
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    settings.HOTLINE_HOME_COUNTRY = "BE"
    settings.HOTLINE_ICCAM_LOGIN_WAIT_SECONDS = 0
    return sim_iccam


@pytest.fixture
def facts(db: None) -> Any:
    """Put the facts the push observes on an item, as the other domains' workers leave them."""
    return Facts()


class Facts:
    def assess(self, item: Any, verdict: str, *, media: Any = None, reason: str = "", age: str = "prepubescent",
               gender: str = "female") -> Any:
        from django.utils import timezone

        from hotline.assessment.models import Assessment, MediaAssessment

        illegal = verdict in ("baseline", "national")
        assessment = Assessment.objects.create(
            item=item, created_at=timezone.now(), is_final=True, verdict=verdict, reason=reason,
            age_group=age if illegal else "", gender=gender if illegal else "", site_type="image_host")
        if media is not None:
            MediaAssessment.objects.create(assessment=assessment, media=media, verdict=verdict,
                                           age_group=age if illegal else "", gender=gender if illegal else "",
                                           is_virtual=illegal, reason=reason)
        return assessment

    def trace(self, item: Any, country: str, ip: str = "198.51.100.7") -> Any:
        from django.utils import timezone

        from hotline.tracing.models import Trace

        return Trace.objects.create(item=item, traced_at=timezone.now(), host=item.host, outcome="ok",
                                    country=country, addresses=[{"ip": ip}])

    def referred(self, item: Any) -> None:
        import uuid

        from django.utils import timezone

        from hotline.partners.models import PoliceContact
        from hotline.routing.models import Referral

        police = PoliceContact.objects.create(name="Police (sim)", country="BE", kind="national",
                                              email="police@example.test")
        referral = Referral.objects.create(key=uuid.uuid4(), police=police, created_at=timezone.now(),
                                           status="sent", sent_at=timezone.now())
        referral.items.add(item)

    def noticed(self, item: Any, *, removed: bool = False) -> None:
        from django.utils import timezone

        from hotline.takedown.models import Takedown

        now = timezone.now()
        Takedown.objects.update_or_create(item=item, defaults={
            "state": "removed" if removed else "online", "state_changed_at": now, "opened_at": now,
            "reported_at": now, "first_notice_at": now, "removed_at": now if removed else None})
