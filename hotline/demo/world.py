"""The simulated world a scenario runs in, all on loopback: the simulated web with its hosting providers,
a DNS stub and an RDAP server placing each site in a country, a partner hotline (a second installation of
the product, with our own site on a thread for its answers), an SMTP sink that is both the police mailbox
and the providers' abuse inboxes, and the directory rows that describe all of them."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import ExitStack
from typing import Any

from django.test import override_settings

from hotline.accounts.models import ClientKind
from hotline.accounts.services import issue_api_client
from hotline.audit.services import SYSTEM, Actor
from hotline.demo.generator import ensure_demo_users
from hotline.demo.peer import EXCHANGE, OwnSite, Partner
from hotline.demo.scenario import BY_NAME, PROVIDERS, REUPLOAD_AFTER, Plan, Site
from hotline.hashes.models import BankKind
from hotline.hashes.services import ensure_bank, import_records
from hotline.lib.hashlists import HashRecord
from hotline.partners.models import PoliceContact
from hotline.sim.dns import SimDns
from hotline.sim.iccam import SimIccam
from hotline.sim.providers import Behaviour, SimProvider, SimProviders
from hotline.sim.rdap import SimNetwork, SimRdap
from hotline.sim.smtp import SmtpSink
from hotline.sim.web import SimWeb
from hotline.takedown.services import LivenessConfig
from hotline.tracing.importer import import_providers

POLICE_NATIONAL = "referrals@police-be.example"
POLICE_INTERNATIONAL = "international@police-be.example"
SIM_ACTOR = Actor(label="simulation")


class World(ExitStack):
    """Start every loopback server, point the settings at them, and publish the plan's sites."""

    def __init__(self, plan: Plan, *, smtp: SmtpSink | None = None) -> None:
        super().__init__()
        self.plan, self._smtp = plan, smtp
        self.tokens: dict[str, str] = {}

    def __enter__(self) -> World:
        super().__enter__()
        try:
            self._start()
        except BaseException:
            self.close()  # what did start (the partner installation, server threads) stops again
            raise
        return self

    def _start(self) -> None:
        self.web = self.enter_context(SimWeb(suffixes=(".sim.test",)))
        self.smtp = self._smtp or self.enter_context(SmtpSink())
        self.dns = self.enter_context(SimDns({}))
        self.iccam = self.enter_context(SimIccam(country="BE"))
        self.rdap = self.enter_context(SimRdap([SimNetwork(
            p.cidr, country=p.country, name=p.slug.upper(), registrant=p.name, abuse=p.email) for p in PROVIDERS]))
        self.enter_context(override_settings(**self.settings()))
        # Our own site answers B's statuses; B stops first (an ExitStack unwinds in reverse), even on failure.
        self.site = self.enter_context(OwnSite())
        self.partner = self.enter_context(Partner(our_endpoint=self.site.url + EXCHANGE,
                                                  sim_hosts=self.web.host_map))
        self.providers = SimProviders(self.web)
        self.providers.attach_sink(self.smtp)
        for plan in PROVIDERS:
            self.providers.add(SimProvider(plan.name, Behaviour(plan.behaviour), contact=plan.email,
                                           ack_after=plan.ack_after, remove_after=plan.remove_after,
                                           reupload_after=REUPLOAD_AFTER, move_to=plan.move_to))
        self.urls: dict[int, str] = {}
        for site in self.plan.sites:
            self.publish(site)

    def settings(self) -> dict[str, Any]:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": self.smtp.host,
            "EMAIL_PORT": self.smtp.port, "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False, "EMAIL_TIMEOUT": 10,
            "HOTLINE_DNS_RESOLVERS": self.dns.spec, "HOTLINE_DNS_TIMEOUT": 1.0,
            "HOTLINE_RDAP_BASE_URL": self.rdap.base_url, "HOTLINE_FETCH_ALLOW_LOOPBACK": True,
            "HOTLINE_AUTO_ASSESS_KNOWN": True, "HOTLINE_HOME_COUNTRY": "BE", "HOTLINE_DIRECT_NOTICE_ABROAD": False,
            "ALLOWED_HOSTS": ["testserver", "127.0.0.1", "localhost"],
            "SECURE_SSL_REDIRECT": False,  # our own site answers the partner on plain HTTP, on loopback
            # The network's platform (ICCAM), simulated with mutual TLS: the partner files its reports there too.
            **self.iccam.environment(), "HOTLINE_ICCAM_LOGIN_WAIT_SECONDS": 0,
        }

    def publish(self, site: Site) -> str:
        """Put ``site`` on the simulated web, in its provider's network; returns its URL."""
        self.urls[site.n] = url = self._publish(site)
        return url

    def _publish(self, site: Site) -> str:
        provider = BY_NAME[site.provider]
        self.dns.set(site.host, A=[provider.address(site.n)])
        if site.fate == "gone":
            self.web.add_host(site.host)
            return self.web.url(site.host, site.path)  # nothing there: the capture finds a 404
        return self.providers.host_content(site.provider, site.host, site.path, seed=1000 + site.n,
                                           marking=site.synthetic)

    def move(self, url: str, provider: str) -> None:
        """A provider moved the site: its name now points into the new provider's network."""
        site = self.site_of_host(url.split("/")[2].split(":")[0])
        if site is not None:
            self.dns.set(site.host, A=[BY_NAME[provider].address(site.n)])

    def site_of_host(self, host: str) -> Site | None:
        if not (host.startswith("site-") and host.endswith(".sim.test")):
            return None
        number = host[len("site-"):-len(".sim.test")]
        return self.plan.sites[int(number)] if number.isdigit() and int(number) < len(self.plan.sites) else None

    def liveness_config(self) -> LivenessConfig:
        return LivenessConfig(policy=self.web.fetch_policy(total_timeout=5.0, connect_timeout=2.0),
                              concurrency=8, per_host=2, batch=500)

    # ------------------------------------------------------------------ directory rows

    def seed(self) -> None:
        """Users, the provider directory, police contacts, the partner, API clients and the known-content bank."""
        ensure_demo_users()
        records = [{"name": p.name, "country": p.country, "cidrs": [p.cidr], "contacts": [
            {"email": p.email, "channel": "email", "language": "en"}]} for p in PROVIDERS]
        summary = import_providers(io.BytesIO(json.dumps(records).encode()), fmt="json", actor=SYSTEM,
                                   origin="simulation")
        if summary.errors:
            raise ValueError(f"simulation directory: {summary.errors}")
        for name, kind, email in (("Federal police (simulated)", PoliceContact.Kind.NATIONAL, POLICE_NATIONAL),
                                  ("International desk (simulated)", PoliceContact.Kind.INTERNATIONAL,
                                   POLICE_INTERNATIONAL)):
            PoliceContact.objects.get_or_create(name=name, country="BE", kind=kind,
                                                defaults={"email": email, "languages": ["en"]})
        self.partner.register()
        for client_kind, country in ((ClientKind.PARTNER, "NL"), (ClientKind.INDUSTRY, "")):
            _client, self.tokens[client_kind] = issue_api_client(
                f"Simulated {client_kind} client", client_kind, actor=SYSTEM, country=country)
        self._bank()

    def _bank(self) -> None:
        bank, _ = ensure_bank("Simulated partner list", kind=BankKind.PARTNER, trusted=True,
                              provenance="synthetic simulation data", actor=SIM_ACTOR)
        records = [HashRecord(signal_type="sha256", value=hashlib.sha256(self.providers.media_bytes(
            self.urls[site.n])).hexdigest(), classification="1", scheme="vics-us", mapped_verdict="baseline",
            source_id=f"sim-{site.n}") for site in self.plan.sites if site.fate == "known"]
        import_records(bank, records, actor=SIM_ACTOR)
