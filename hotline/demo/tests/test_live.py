"""The demo: the simulated history first, then the live world on the real clock. ``hotline demo`` runs both;
here the live part runs on a moved clock so a test sees minutes of it in seconds."""

from __future__ import annotations

import logging
import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from hotline.accounts.models import User
from hotline.assessment.models import Assessment
from hotline.demo.live import DEMO_PACE, LIVE_REMOVE_AFTER, LiveDemo, process_env
from hotline.demo.scenario import make_plan
from hotline.demo.simulate import Simulation
from hotline.demo.world import World
from hotline.reports.models import Item, Report
from hotline.routing.models import Referral, ReferralStatus
from hotline.routing.services import message_id as referral_message_id

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
START = datetime(2026, 5, 4, tzinfo=UTC)


def test_the_live_demo_feeds_reports_and_leaves_the_newest_items_for_people() -> None:
    plan = make_plan(6, days=2, seed=5)
    with World(plan) as world:
        Simulation(plan, world, start=START).run()
        history_items, history_sites = Item.objects.count(), len(plan.sites)
        t0 = START + timedelta(days=2, minutes=30)
        with time_machine.travel(t0, tick=True) as clock:
            live = LiveDemo(plan, world, now=t0, feed_seconds=20, seed=6)  # BE and US illegal sites among them
            assert {p.remove_after for p in world.providers.providers.values()} == {LIVE_REMOVE_AFTER}

            live.step(t0)
            live.step(t0 + timedelta(seconds=10))  # the next report is due 20 s after the first
            assert live.arrived == 1
            clock.move_to(t0 + timedelta(seconds=25))
            live.step(t0 + timedelta(seconds=25))
            assert live.arrived == 2
            new_sites = plan.sites[history_sites:]
            assert new_sites and {world.urls[s.n] for s in new_sites} <= set(
                Item.objects.values_list("canonical_url", flat=True))
            assert Report.objects.filter(items__host__in=[s.host for s in new_sites]).exists()

            # The worker's part (capture) done here; the scripted analyst leaves items younger than 3 minutes.
            later = t0 + timedelta(minutes=1)
            clock.move_to(later)
            live.pipeline(later)
            live.step(later)  # a third report is due (45 s after the first)
            assert live.arrived == 3
            new_sites = plan.sites[history_sites:]
            new_items = Item.objects.filter(host__in=[s.host for s in new_sites])
            assert new_items.count() == len(new_sites) == Item.objects.count() - history_items
            assert not Assessment.objects.filter(item__in=new_items).exists()
            much_later = t0 + timedelta(minutes=5)
            clock.move_to(much_later)
            live.pipeline(much_later)
            live.feed = None  # no more reports: the items of the first minute have waited long enough now
            live.step(much_later)
            analyst2 = User.objects.get(username="analyst2")
            assessed = Assessment.objects.filter(item__in=new_items, is_final=True)
            assert assessed.count() == len(new_sites) and {a.analyst_id for a in assessed} == {analyst2.pk}

            # Live, the police liaison releases every new referral at once (the history's keep their hold).
            live.pipeline(much_later)  # trace, route, refer: the worker's part
            live.step(much_later)
            held = Referral.objects.filter(created_at__gte=t0, hold_until__isnull=False)  # domestic: with a hold
            assert held.exists() and set(held.values_list("answer", flat=True)) == {"release"}

        env = process_env(world)
        assert env["HOTLINE_SMTP_PORT"] == str(world.smtp.port) and env["HOTLINE_DNS_RESOLVERS"] == world.dns.spec
        assert env["HOTLINE_RDAP_BASE_URL"] == world.rdap.base_url and DEMO_PACE.items() <= env.items()


def test_hotline_demo_simulates_a_history_and_refuses_to_empty_a_database_it_does_not_own(
        settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    call_command("demo", "--setup-only", "--history-reports", "10", "--history-days", "2", "--seed", "3")
    plan = make_plan(10, days=2, seed=3)
    assert logging.root.manager.disable == logging.NOTSET, "the history quiets INFO logs only while it runs"
    assert Item.objects.count() == len(plan.sites)
    assert all(u.totp_device.is_confirmed for u in User.objects.filter(username__in=["analyst", "manager", "police"]))
    caught = list(mailbox.Maildir(tmp_path / "demo-mail", create=False))
    referrals = {str(m["Message-ID"]) for m in caught if str(m["Message-ID"]).startswith("<referral-")}
    assert referrals == {referral_message_id(r) for r in Referral.objects.filter(status=ReferralStatus.SENT)}
    assert len(referrals) >= len(plan.illegal(country="BE")) > 0
    # The test database is not a demo file under HOTLINE_VAR_DIR: a second run refuses instead of emptying it.
    with pytest.raises(CommandError, match="already holds items"):
        call_command("demo", "--setup-only", "--history-reports", "10", "--history-days", "2")
