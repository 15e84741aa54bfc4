"""End to end on a simulated clock: real notices over SMTP, real checks against the simulated web, and
simulated providers that remove, ignore, only acknowledge, re-upload or move the content."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.evidence.models import Media
from hotline.reports.models import Item
from hotline.sim.dns import SimDns
from hotline.sim.providers import Action, Behaviour, SimProvider, SimProviders
from hotline.sim.smtp import SmtpSink
from hotline.sim.web import SimWeb
from hotline.takedown import respond
from hotline.takedown.models import Notice, Takedown, TakedownState
from hotline.takedown.services import LivenessConfig
from hotline.takedown.steps import escalation_step, liveness_step, notice_step
from hotline.takedown.tests.conftest import MOVED_TO_IP, MakeContact, MakeTraced

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
TICK = timedelta(minutes=30)


def _carry_out(action: Action, dns: SimDns, hosts: dict[str, str]) -> None:
    if action.kind == "moved":
        dns.set(hosts[action.url], A=[MOVED_TO_IP])  # the same name now points into another network
        return
    token = action.link.split("?t=", 1)[1]
    respond.act(respond.resolve(token), "acknowledge" if action.kind == "acknowledge" else "removed", note="",
                now=action.at)


def _simulate(start: datetime, providers: SimProviders, dns: SimDns, hosts: dict[str, str],
              config: LivenessConfig) -> None:
    now = start
    while now < start + timedelta(days=5):
        for action in providers.advance(now):
            _carry_out(action, dns, hosts)
        while notice_step(now=now) | escalation_step(now=now):
            pass
        while liveness_step(now=now, config=config):
            pass
        now += TICK


def test_each_kind_of_provider_ends_where_it_should(
    sim: SimWeb, smtp: SmtpSink, make_contact: MakeContact, traced_item: MakeTraced, make_media: Any,
    liveness_config: LivenessConfig, offline_tracing: SimDns, settings: Any
) -> None:
    settings.HOTLINE_TAKEDOWN_MISS_INTERVAL_MINUTES = 30
    providers = SimProviders(sim)
    providers.attach_sink(smtp)
    start = timezone.now()
    items: dict[str, Item] = {}
    hosts: dict[str, str] = {}
    for behaviour in Behaviour:
        contact = make_contact(f"{behaviour.value} hosting")
        assert contact.provider is not None
        providers.add(SimProvider(contact.provider.name, behaviour, contact=contact.email, move_to="elsewhere",
                                  remove_after=timedelta(hours=5), reupload_after=timedelta(days=2)))
        providers.add(SimProvider("elsewhere", Behaviour.IGNORE))
        url = providers.host_content(contact.provider.name, f"{behaviour.value}.sim.test", "/gallery/1",
                                     seed=len(items) + 11)
        item = traced_item(contact, url=url, due=start)
        media = make_media(item, seed=len(items) + 1, data=providers.media_bytes(url))
        Media.objects.filter(pk=media.pk).update(url=providers.media_url(url))
        items[behaviour.value], hosts[url] = item, f"{behaviour.value}.sim.test"
    try:
        _simulate(start, providers, offline_tracing, hosts, liveness_config)
    finally:
        offline_tracing.remove("move.sim.test")

    def takedown(name: str) -> Takedown:
        return Takedown.objects.get(item=items[name])

    prompt = takedown("prompt")
    assert prompt.state == TakedownState.REMOVED and prompt.acknowledged_at is not None
    assert prompt.first_notice_at is not None and prompt.removed_at is not None
    assert timedelta(hours=5) <= prompt.removed_at - prompt.first_notice_at <= timedelta(hours=5) + TICK
    assert prompt.provider_removed_at is not None and prompt.repeats == 0

    ignore = takedown("ignore")
    assert ignore.state == TakedownState.ONLINE and ignore.acknowledged_at is None and ignore.repeats >= 3
    assert ignore.escalation_rung >= 1 and ignore.managers_flagged_at is not None  # nobody to escalate to

    ack_only = takedown("ack_only")
    assert ack_only.state == TakedownState.ONLINE and ack_only.acknowledged_at is not None

    reupload = takedown("reupload")
    # removed, back two days later, noticed again, removed again, back again ...: every return is counted
    assert reupload.reuploads >= 1 and reupload.reappeared_at is not None and reupload.removed_at is not None
    items["reupload"].refresh_from_db()
    assert items["reupload"].reopened_at == reupload.reappeared_at or reupload.reuploads > 1

    moved = takedown("move")
    assert moved.contact is not None and moved.contact.email == "abuse@sim-be.example"  # re-routed after the move
    assert Notice.objects.filter(contact=moved.contact, state="sent").exists()
    assert moved.state == TakedownState.ONLINE

