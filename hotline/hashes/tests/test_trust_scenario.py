"""Undo by source in the whole pipeline: a partner list holds one bad entry (a harmless generated pattern, shown
on several not-illegal simulated sites, labelled baseline). The simulation inherits verdicts from it, routes
and notices on them; disabling the entry sends every affected item back to review, with nothing lost."""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime

import pytest
from django.db.models import Count

from hotline.accounts.models import User
from hotline.assessment.models import Assessment
from hotline.assessment.services import claim_item, review_item
from hotline.audit.models import AuditEvent
from hotline.demo import peer
from hotline.demo.scenario import BY_NAME, Plan, Site, make_plan
from hotline.demo.simulate import Simulation
from hotline.demo.verdict_labels import SCRIPTED
from hotline.demo.world import SIM_ACTOR, World
from hotline.evidence.models import Media
from hotline.hashes.models import Bank, Entry, MediaMatch
from hotline.hashes.services import import_records, trust
from hotline.lib.hashlists import HashRecord
from hotline.reports.models import Item, ItemStatus, Report
from hotline.routing.models import Decision

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
START = datetime(2026, 3, 2, tzinfo=UTC)
SHARED_SEED = 999_999  # the one pattern the planted sites all show


class PlantedWorld(World):
    """The simulated world, where some not-illegal sites show one shared pattern that the partner list wrongly
    holds as baseline (source id ``planted-bad``)."""

    def __init__(self, plan: Plan, planted: set[int]) -> None:
        super().__init__(plan)
        self.planted = planted

    def _publish(self, site: Site) -> str:
        if site.n not in self.planted:
            return super()._publish(site)
        self.dns.set(site.host, A=[BY_NAME[site.provider].address(site.n)])
        return self.providers.host_content(site.provider, site.host, site.path, seed=SHARED_SEED)

    def _bank(self) -> None:
        super()._bank()
        value = hashlib.sha256(self.providers.media_bytes(self.urls[min(self.planted)])).hexdigest()
        import_records(Bank.objects.get(name="Simulated partner list"), [HashRecord(
            signal_type="sha256", value=value, classification="1", scheme="vics-us", mapped_verdict="baseline",
            source_id="planted-bad")], actor=SIM_ACTOR)


def _snapshot() -> dict[str, int]:
    return {"items": Item.objects.count(), "reports": Report.objects.count(), "matches": MediaMatch.objects.count(),
            "assessments": Assessment.objects.count(), "media": Media.objects.count(),
            "decisions": Decision.objects.count()}


def test_disabling_a_planted_bad_entry_sends_every_item_it_decided_back_to_review(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installation B migrates its own database before it listens: on a shared, busy machine that can take
    # longer than the default minute (the peer is the same; only the wait for its port is longer).
    monkeypatch.setattr(peer, "start", functools.partial(peer.start, timeout=900.0))
    plan = make_plan(20, days=3, seed=3)
    planted = {s.n for s in plan.sites if s.fate == "not_illegal"}
    planted = set(sorted(planted)[:4])
    with PlantedWorld(plan, planted) as world:
        Simulation(plan, world, start=START).run()
        bad = Entry.objects.get(source_id="planted-bad")
        relied = set(MediaMatch.objects.supports().filter(entry=bad).values_list("media__item", flat=True))
        hosts = {world.urls[n].split("/")[2].split(":")[0] for n in planted}
        reported = set(Item.objects.filter(host__in=hosts).values_list("pk", flat=True))
        assert relied and relied <= reported
        decided = set(Assessment.objects.filter(item__in=relied, inherited=True).values_list("item", flat=True))
        assert decided, "the bad entry decided items by inheritance"
        routed = Decision.objects.current().filter(item__in=decided).count()
        before = _snapshot()
        senior = User.objects.create_user("senior-sim", role="senior_analyst")
        counts = trust.preview(trust.Source.entry(bad))
        assert counts["items"] == len(relied) and counts["to_review"] + counts["in_review"] == len(decided)

        done = trust.disable(bad, user=senior, reason="a harmless test pattern, wrongly listed")

        assert done["to_review"] == counts["to_review"] and done["decisions"] == routed
        print(f"planted entry: {len(relied)} items relied on it, {len(decided)} decided by inheritance; undo: {done}")
        statuses = dict(Item.objects.filter(pk__in=decided).values_list("status").annotate(n=Count("pk")))
        assert statuses == {ItemStatus.IN_REVIEW: len(decided)}
        assert not Media.objects.filter(item__in=relied).exclude(inherited_verdict="").exists()
        assert _snapshot() == before  # nothing deleted: reports, matches, assessments, decisions all kept
        assert MediaMatch.objects.filter(entry=bad, withdrawn_kind="disabled").count() == len(relied)
        reasons = AuditEvent.objects.filter(action="item.review_requested", object_id__in=[str(i) for i in decided])
        assert reasons.count() == counts["to_review"]
        assert Decision.objects.current().filter(item__in=decided, needs_analyst=True).count() == routed
        for item in Item.objects.filter(pk__in=decided):
            claim_item(item, user=senior)
            review_item(item, SCRIPTED["not_illegal"], user=senior)
        assert set(Item.objects.filter(pk__in=decided).values_list("verdict", flat=True)) == {"not_illegal"}
        assert Assessment.objects.filter(item__in=decided, inherited=True).count() == len(decided)  # history kept
