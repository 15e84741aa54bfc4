"""The facts worker step: new items first, stale facts again, one worker at a time, errors pushed back;
and percentiles that are the same whether PostgreSQL or Python computes them."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from hotline.reports.models import Item
from hotline.stats import facts, percentiles
from hotline.stats.models import ItemFact, RefreshState
from hotline.stats.steps import refresh_step
from hotline.takedown.models import Takedown
from hotline.tracing.models import Provider

pytestmark = pytest.mark.django_db
MakeItem = Callable[..., Item]


def test_it_computes_facts_for_new_items_then_pauses(make_item: MakeItem) -> None:
    item = make_item()
    now = timezone.now()
    assert refresh_step(now=now) is False  # fewer than a batch: nothing more to do now
    fact = ItemFact.objects.get(item=item)
    assert (fact.source, fact.reported_at, fact.refreshed_at) == ("public", item.first_reported_at, now)
    make_item()
    refresh_step(now=now + timedelta(seconds=1))
    assert ItemFact.objects.count() == 1  # paused: the second item waits for the next run
    refresh_step(now=now + timedelta(seconds=61))
    assert ItemFact.objects.count() == 2


@override_settings(HOTLINE_STATS_MAX_AGE_MINUTES=15)
def test_it_recomputes_stale_facts_with_what_changed_since(make_item: MakeItem) -> None:
    item = make_item()
    now = timezone.now()
    refresh_step(now=now)
    provider = Provider.objects.create(name="Host")
    Takedown.objects.create(item=item, state="removed", state_changed_at=now, opened_at=now, reported_at=now,
                            provider=provider, first_notice_at=now, removed_at=now + timedelta(hours=2))
    refresh_step(now=now + timedelta(minutes=5))
    assert ItemFact.objects.get(item=item).in_takedown is False  # not stale yet
    refresh_step(now=now + timedelta(minutes=16))
    fact = ItemFact.objects.get(item=item)
    assert (fact.in_takedown, fact.noticed_provider_id, fact.notice_removal_secs) == (True, provider.pk, 7200)


@override_settings(HOTLINE_STATS_BATCH=2)
def test_it_goes_on_at_once_after_a_full_batch(make_item: MakeItem) -> None:
    for _ in range(3):
        make_item()
    now = timezone.now()
    assert refresh_step(now=now) is True
    assert ItemFact.objects.count() == 2
    assert refresh_step(now=now) is False
    assert ItemFact.objects.count() == 3


def test_it_leaves_the_work_to_the_worker_holding_the_lease(make_item: MakeItem) -> None:
    make_item()
    now = timezone.now()
    RefreshState.objects.create(pk=1, next_run_at=now, lease_until=now + timedelta(minutes=1))
    assert refresh_step(now=now) is False
    assert not ItemFact.objects.exists()
    assert refresh_step(now=now + timedelta(minutes=2)) is False  # the lease ran out: taken over
    assert ItemFact.objects.count() == 1


def test_it_pushes_the_next_run_back_when_a_refresh_fails(make_item: MakeItem,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    make_item()
    now = timezone.now()

    def broken(ids: object, *, now: object) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(facts, "refresh_items", broken)
    with pytest.raises(RuntimeError):
        refresh_step(now=now)
    state = RefreshState.objects.get()
    assert (state.lease_until, state.next_run_at) == (None, now + timedelta(minutes=5))


def test_it_gives_the_same_percentiles_in_sql_and_in_python(make_item: MakeItem,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rng, now = random.Random(4), timezone.now()
    for _ in range(60):
        make_item()
    facts.refresh_all(now=now)
    for fact in ItemFact.objects.all():
        ItemFact.objects.filter(pk=fact.pk).update(removal_secs=rng.choice([None, rng.randrange(1, 10**7)]),
                                                   country=rng.choice(["BE", "NL", "FR"]))
    found = percentiles.grouped_percentiles(ItemFact.objects.all(), "removal_secs", "country", (0.5, 0.9, 0.25))
    monkeypatch.setattr(percentiles, "in_sql", lambda: False)
    python = percentiles.grouped_percentiles(ItemFact.objects.all(), "removal_secs", "country", (0.5, 0.9, 0.25))
    assert found == python and len(found) == 3


def test_the_command_recomputes_every_fact_or_those_since_a_date(make_item: MakeItem) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    make_item(), make_item()
    out = StringIO()
    call_command("stats", "refresh", stdout=out)
    assert out.getvalue().startswith("refreshed the facts of 2 items")
    call_command("stats", "refresh", "--since", "2999-01-01", stdout=out)
    assert "refreshed the facts of 0 items" in out.getvalue()
    with pytest.raises(CommandError, match="--since"):
        call_command("stats", "refresh", "--since", "last week")


def test_it_counts_the_distinct_files_classified_illegal(make_item: MakeItem, make_media: Any, analyst: Any) -> None:
    from hotline.assessment.services import AssessmentData, MediaData, assess_item, claim_item
    from hotline.sim.images import make_image

    item = make_item()
    bad, other_bad, fine = (make_media(item, seed=n) for n in (2, 3, 4))
    make_media(item, seed=9, data=make_image("png", 2, size=(320, 240)))  # a copy of ``bad``
    claim_item(item, user=analyst)

    def illegal(pk: int) -> MediaData:
        return MediaData(pk, "baseline", legal_limb="real_minor", content_type="image", age_group="prepubescent")

    assess_item(item, AssessmentData(verdict="", media=(illegal(bad.pk), illegal(other_bad.pk),
                                                        MediaData(fine.pk, "not_illegal", reason="nudism"))),
                user=analyst)
    [fact] = facts.compute([item.pk], now=timezone.now())
    assert (fact.verdict, fact.illegal, fact.illegal_media) == ("baseline", True, 2)
