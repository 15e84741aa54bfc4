"""Fixtures for takedown tests: a provider with its abuse contact, assessed items traced to it, due routing
decisions, a real SMTP server on loopback and the simulated web."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from hotline.reports.models import Item, ItemStatus
from hotline.routing.models import Decision, Route
from hotline.sim.dns import SimDns
from hotline.sim.rdap import SimNetwork, SimRdap
from hotline.sim.smtp import SmtpSink
from hotline.sim.web import SimWeb
from hotline.takedown.services import LivenessConfig
from hotline.tracing.models import AbuseContact, Provider, Trace, TraceOutcome

MakeContact = Callable[..., AbuseContact]
MakeTraced = Callable[..., Item]


# Addresses the re-trace may find (public-looking, only looked up offline): a Belgian network.
MOVED_TO_IP = "91.183.1.9"
NETWORKS = [SimNetwork("91.183.0.0/16", country="BE", name="SIM-BE-NET", registrant="Sim BE Hosting",
                       abuse="abuse@sim-be.example")]


@pytest.fixture(scope="session")
def sim_dns() -> Iterator[SimDns]:
    """Shared by the session: a test that puts a name in the zone uses a name of its own and removes it."""
    with SimDns({}) as server:
        yield server


@pytest.fixture(scope="session")
def sim_rdap() -> Iterator[SimRdap]:
    with SimRdap(NETWORKS) as server:
        yield server


@pytest.fixture(autouse=True)
def offline_tracing(settings: Any, sim_dns: SimDns, sim_rdap: SimRdap) -> SimDns:
    """The re-trace before sending uses the real tracer against DNS and RDAP stubs on loopback: a name not in
    the zone is NXDOMAIN; nothing is ever asked of the outside world."""
    host, port = sim_dns.nameserver
    settings.HOTLINE_DNS_RESOLVERS = f"{host}:{port}"
    settings.HOTLINE_DNS_TIMEOUT = 1.0
    settings.HOTLINE_RDAP_BASE_URL = sim_rdap.base_url
    settings.HOTLINE_FETCH_ALLOW_LOOPBACK = True
    return sim_dns


@pytest.fixture
def make_contact(db: None) -> MakeContact:
    counter = iter(range(1, 10_000))

    def make(name: str | None = None, *, language: str = "en", channel: str = "email", endpoint: str = "",
             repeat_hours: int = 24) -> AbuseContact:
        n = next(counter)
        provider, _ = Provider.objects.get_or_create(name=name or f"Host {n} BV", defaults={"country": "BE"})
        return AbuseContact.objects.create(
            provider=provider, name=f"{provider.name} abuse desk", email=f"abuse{n}@host{n}.example",
            endpoint=endpoint, channel=channel, language=language, repeat_hours=repeat_hours)

    return make


@pytest.fixture
def contact(make_contact: MakeContact) -> AbuseContact:
    return make_contact("Host BV")


def make_trace_for(item: Item, contact: AbuseContact | None, *, ip: str = "198.51.100.7",
                   at: datetime | None = None, changed: bool = False) -> Trace:
    return Trace.objects.create(
        item=item, traced_at=at or timezone.now(), host=item.host, outcome=TraceOutcome.OK,
        addresses=[{"ip": ip}], country="BE", country_signals={"iptocc": "BE"},
        provider=contact.provider if contact else None, abuse_contact=contact, changed=changed)


@pytest.fixture
def traced_item(make_item: Callable[..., Item]) -> MakeTraced:
    """An item assessed illegal, traced to ``contact``, with a current routing decision whose notice is due."""

    def make(contact: AbuseContact | None, *, url: str | None = None, due: datetime | None = None,
             ip: str = "198.51.100.7", verdict: str = "baseline") -> Item:
        now = due or timezone.now()
        item = make_item(url)
        fields = item.transition(ItemStatus.ASSESSED, now=now)
        item.verdict = verdict
        item.save(update_fields=[*fields, "verdict"])
        trace = make_trace_for(item, contact, ip=ip, at=now)
        Decision.objects.create(item=item, trace=trace, decided_at=now, route=Route.DOMESTIC, notice_due_at=now,
                                inputs={"abuse_contact_id": contact.pk if contact else None})
        return item

    return make


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    """A real SMTP server on loopback; Django's SMTP backend sends to it."""
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 10
        yield sink


@pytest.fixture(scope="module")
def sim() -> Iterator[SimWeb]:
    with SimWeb(suffixes=(".sim.test",)) as web:
        yield web


@pytest.fixture
def liveness_config(sim: SimWeb) -> LivenessConfig:
    return LivenessConfig(policy=sim.fetch_policy(total_timeout=5.0, connect_timeout=2.0), concurrency=8,
                          per_host=2, batch=100)
