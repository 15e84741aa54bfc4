"""The demo after its history: the same simulated world and the same scripted people, on the real clock.

``hotline demo`` first runs the simulation on a fake clock over the last days (so the queue, the notices, the
statistics and the provider scorecards have a past), then keeps the world alive and hands the pipeline to the real
web and worker processes. From then on a :class:`LiveDemo` does only what the outside world and the people do:
new reports arrive every few seconds, providers answer notices (faster than in life, so a newcomer sees content
disappear within minutes), the scripted analyst works the older part of the queue (the newest items are left for
the person trying the demo), the police liaison releases the new referrals' holds and the partner installation answers.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from django.db.models import QuerySet

from hotline.accounts.models import User
from hotline.audit.services import Actor
from hotline.demo.scenario import SOURCES, Plan, new_site
from hotline.demo.simulate import Simulation
from hotline.demo.world import World
from hotline.reports.models import Item
from hotline.routing.models import PoliceAnswer, Referral, ReferralStatus
from hotline.routing.services import record_police_answer

# Providers in the live demo act in minutes instead of hours (the history keeps the plan's pace).
LIVE_ACK_AFTER = timedelta(seconds=45)
LIVE_REMOVE_AFTER = timedelta(minutes=2)
LIVE_REUPLOAD_AFTER = timedelta(minutes=8)

# The worker and web processes' pace for the demo: notices batched for one minute, re-checks every minute in the
# first hour after a notice, two misses one minute apart confirm a removal. Production keeps the defaults.
DEMO_PACE = {
    "HOTLINE_TAKEDOWN_BATCH_MINUTES": "1",
    "HOTLINE_TAKEDOWN_MISSES": "2",
    "HOTLINE_TAKEDOWN_MISS_INTERVAL_MINUTES": "1",
    "HOTLINE_TAKEDOWN_CHECK_SCHEDULE": "[[1, 1], [24, 60], [null, 1440]]",
    "HOTLINE_STATS_MAX_AGE_MINUTES": "2",
}


def process_env(world: World) -> dict[str, str]:
    """The settings the web and worker processes need to live in ``world`` (all loopback) at the demo's pace."""
    return {
        "HOTLINE_FETCH_ALLOW_LOOPBACK": "true", "HOTLINE_SCREENSHOTS": "true",
        "HOTLINE_SIM_HOSTS": json.dumps(world.web.host_map),
        "HOTLINE_SMTP_HOST": world.smtp.host, "HOTLINE_SMTP_PORT": str(world.smtp.port),
        "HOTLINE_SMTP_STARTTLS": "false", "HOTLINE_SMTP_TLS": "false",
        "HOTLINE_DNS_RESOLVERS": world.dns.spec, "HOTLINE_DNS_TIMEOUT": "1",
        "HOTLINE_RDAP_BASE_URL": world.rdap.base_url,
        "HOTLINE_HOME_COUNTRY": "BE", "HOTLINE_AUTO_ASSESS_KNOWN": "true", "HOTLINE_DIRECT_NOTICE_ABROAD": "false",
        **DEMO_PACE,
    }


class LiveDemo(Simulation):
    """One :meth:`step` per few seconds of real time; the product's own worker processes do the pipeline."""

    def __init__(self, plan: Plan, world: World, *, now: datetime, feed_seconds: float = 20.0,
                 analyst_after: timedelta = timedelta(minutes=3), seed: int = 1) -> None:
        super().__init__(plan, world, start=now)
        self.rng = random.Random(seed)
        self.feed = timedelta(seconds=feed_seconds) if feed_seconds > 0 else None
        self.next_report = now
        self.analyst_after = analyst_after
        # "analyst" is the login printed for the person trying the demo; the script works as "analyst2".
        self.analyst = User.objects.get(username="analyst2")
        self.police = User.objects.get(username="police")
        self.arrived = 0
        # The partner installation's clock still stands at the history's last tick: bring it to now before the
        # worker forwards anything (it refuses messages outside its clock window).
        world.partner.tick(now)
        for provider in world.providers.providers.values():
            provider.ack_after, provider.remove_after = LIVE_ACK_AFTER, LIVE_REMOVE_AFTER
            provider.reupload_after = LIVE_REUPLOAD_AFTER

    def step(self, now: datetime) -> None:
        """What the outside world and the scripted people do at ``now``."""
        for action in self.world.providers.advance(now):
            self.carry_out(action)
        if self.feed is not None and now >= self.next_report:
            self.next_report = now + self.feed
            self.report_new_sites(now)
        self.analyst_works(now)
        self.police_liaison_works(now)
        self.world.partner.tick(now)

    def report_new_sites(self, now: datetime) -> None:
        """A new report naming one or two new synthetic sites, from one of the four sources."""
        sites = [new_site(self.plan, self.rng) for _ in range(1 if self.rng.random() < 0.7 else 2)]
        urls = [self.world.publish(site) for site in sites]
        source = self.rng.choice(SOURCES)
        {"public": self.public, "partner": self.api, "industry": self.api, "csv": self.csv}[source](
            source, [urls], now)
        self.arrived += 1

    def police_liaison_works(self, now: datetime) -> None:
        """Live, the police liaison releases every new referral once it has it, so that the demo's notices go
        out within minutes (the history keeps the plan's mix of early releases and 48 h holds)."""
        waiting = Referral.objects.filter(status=ReferralStatus.SENT, answer=PoliceAnswer.NONE, hold_until__gt=now,
                                          created_at__gte=self.start)
        for referral in waiting:
            record_police_answer(referral, PoliceAnswer.RELEASE, actor=Actor.of_user(self.police), now=now,
                                 note="demo: released at once so the notice goes out")

    def waiting(self, now: datetime) -> QuerySet[Item]:
        """Only items that waited a while: the newest are left for the person trying the demo."""
        return super().waiting(now).filter(first_reported_at__lte=now - self.analyst_after)
