from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from hotline.audit.models import AuditEvent
from hotline.evidence.models import Media
from hotline.lib.http import FetchError
from hotline.reports.models import Item, ItemStatus
from hotline.sim.providers import SimProviders
from hotline.sim.web import SimRequest, SimResponse, SimWeb
from hotline.takedown.checker import HIT, MISS, TRANSIENT, Checker, HostLimiter, Target, interleave_by_host
from hotline.takedown.models import Takedown, TakedownState
from hotline.takedown.services import LivenessConfig, next_check_time
from hotline.takedown.steps import liveness_step
from hotline.takedown.tests.conftest import MakeTraced
from hotline.tracing.models import AbuseContact

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


@pytest.fixture
def providers(sim: SimWeb) -> Iterator[SimProviders]:
    sims = SimProviders(sim)
    yield sims
    for url in list(sims.pages):
        sims._unpublish(url)


@pytest.fixture
def online_item(providers: SimProviders, traced_item: MakeTraced, contact: AbuseContact,
                make_media: Any) -> Callable[..., Item]:
    """An item whose page (with one generated image) is on the simulated web, captured, with a takedown."""
    counter = iter(range(1, 1000))

    def make(now: datetime) -> Item:
        n = next(counter)
        url = providers.host_content("Host BV", f"live-{n}.sim.test", f"/album/{n}", seed=40 + n)
        item = traced_item(contact, url=url, due=now)
        media = make_media(item, seed=n, data=providers.media_bytes(url))
        Media.objects.filter(pk=media.pk).update(url=providers.media_url(url))
        Takedown.objects.create(item=item, state_changed_at=now, opened_at=now, reported_at=now, contact=contact,
                                next_check_at=now, first_notice_at=now, last_notice_at=now)
        return item

    return make


def _due(takedown: Takedown) -> datetime:
    assert takedown.next_check_at is not None
    return takedown.next_check_at


def _step(config: LivenessConfig, at: datetime) -> Takedown:
    assert liveness_step(now=at, config=config) is True
    return Takedown.objects.get()


def test_content_still_there_is_a_quiet_hit_on_the_schedule(online_item: Callable[..., Item],
                                                            liveness_config: LivenessConfig) -> None:
    now = timezone.now()
    online_item(now)
    takedown = _step(liveness_config, now)
    assert (takedown.state, takedown.last_check_outcome, takedown.checks) == ("online", "hit:media_present", 1)
    assert takedown.next_check_at == now + 15 * MIN  # right after a notice: every 15 minutes
    assert liveness_step(now=now + 14 * MIN, config=liveness_config) is False
    assert not AuditEvent.objects.filter(action__startswith="takedown.miss").exists()


def test_three_spaced_misses_confirm_the_removal_at_the_first_miss(
    online_item: Callable[..., Item], providers: SimProviders, liveness_config: LivenessConfig, settings: Any
) -> None:
    settings.HOTLINE_TAKEDOWN_MISS_INTERVAL_MINUTES = 30
    now = timezone.now()
    item = online_item(now)
    _step(liveness_config, now)
    providers._unpublish(next(iter(providers.pages)))
    first_miss = now + 15 * MIN
    takedown = _step(liveness_config, first_miss)
    assert (takedown.state, takedown.consecutive_misses, takedown.last_check_outcome) == (
        TakedownState.REMOVAL_PENDING, 1, "miss:http_404")
    assert takedown.next_check_at == first_miss + 30 * MIN
    takedown = _step(liveness_config, first_miss + 30 * MIN)
    assert takedown.consecutive_misses == 2
    takedown = _step(liveness_config, first_miss + 60 * MIN)
    item.refresh_from_db()
    assert takedown.state == TakedownState.REMOVED and takedown.removed_at == first_miss
    assert takedown.removal_confirmed_at == first_miss + 60 * MIN
    assert item.status == ItemStatus.CLOSED and item.closed_at == first_miss + 60 * MIN
    assert takedown.next_check_at == first_miss + 60 * MIN + timedelta(days=1)  # watching for a re-upload
    assert AuditEvent.objects.filter(action="takedown.miss").count() == 3
    assert AuditEvent.objects.filter(action="takedown.removed", object_id=str(item.pk)).exists()


def test_misses_closer_than_the_interval_do_not_count(online_item: Callable[..., Item], providers: SimProviders,
                                                      liveness_config: LivenessConfig, settings: Any) -> None:
    settings.HOTLINE_TAKEDOWN_MISS_INTERVAL_MINUTES = 30
    now = timezone.now()
    online_item(now)
    providers._unpublish(next(iter(providers.pages)))
    _step(liveness_config, now)
    Takedown.objects.update(next_check_at=now + 5 * MIN)
    takedown = _step(liveness_config, now + 5 * MIN)
    assert (takedown.state, takedown.consecutive_misses) == (TakedownState.REMOVAL_PENDING, 1)


def test_transient_errors_are_not_misses_and_a_hit_cancels_a_pending_removal(
    online_item: Callable[..., Item], providers: SimProviders, sim: SimWeb, liveness_config: LivenessConfig
) -> None:
    now = timezone.now()
    item = online_item(now)
    url = next(iter(providers.pages))
    host, path, media_path, _ = providers.pages[url]
    for where in (path, media_path):
        sim.set_page(host, where, b"busy", status=503)
    takedown = _step(liveness_config, now)
    assert (takedown.state, takedown.consecutive_misses, takedown.last_check_outcome) == (
        TakedownState.ONLINE, 0, "transient:http_503")
    for where in (path, media_path):
        sim.set_page(host, where, b"gone", status=410)
    takedown = _step(liveness_config, _due(takedown))
    assert takedown.state == TakedownState.REMOVAL_PENDING
    providers._publish(url)
    takedown = _step(liveness_config, _due(takedown))
    assert (takedown.state, takedown.consecutive_misses, takedown.first_miss_at) == (TakedownState.ONLINE, 0, None)
    assert AuditEvent.objects.filter(action="takedown.still_online", object_id=str(item.pk)).exists()


def test_a_page_without_the_captured_media_is_a_miss(online_item: Callable[..., Item], providers: SimProviders,
                                                     sim: SimWeb, liveness_config: LivenessConfig) -> None:
    now = timezone.now()
    online_item(now)
    url = next(iter(providers.pages))
    host, _, media_path, _ = providers.pages[url]
    sim.set_page(host, media_path, b"\x89PNG placeholder", content_type="image/png")  # same URL, other file
    takedown = _step(liveness_config, now)
    assert (takedown.state, takedown.last_check_outcome) == (TakedownState.REMOVAL_PENDING, "miss:media_gone")


def test_a_name_that_no_longer_resolves_is_a_miss(providers: SimProviders, sim: SimWeb) -> None:
    class Gone:
        def resolve(self, host: str, port: int) -> list[str]:
            raise FetchError("dns_failure", f"{host}: Name or service not known", retryable=False)

    class Flaky:
        def resolve(self, host: str, port: int) -> list[str]:
            raise FetchError("dns_failure", f"{host}: temporary failure", retryable=True)

    policy = sim.fetch_policy(host_map={})
    target = Target(1, "http://vanished.sim.test/page", {"http://vanished.sim.test/m.png": "0" * 64})
    assert Checker(policy, Gone()).check(target).outcome == MISS
    assert Checker(policy, Flaky()).check(target).outcome == TRANSIENT


def test_a_direct_media_url_is_compared_by_hash(providers: SimProviders, sim: SimWeb) -> None:
    page = providers.host_content("Host BV", "direct.sim.test", "/p", seed=7)
    media_url, data = providers.media_url(page), providers.media_bytes(page)
    import hashlib

    checker = Checker(sim.fetch_policy())
    assert checker.check(Target(1, media_url, {media_url: hashlib.sha256(data).hexdigest()})).outcome == HIT
    other = checker.check(Target(2, media_url, {media_url: "f" * 64}))
    assert (other.outcome, other.code) == (MISS, "other_file")


def test_content_back_after_removal_reopens_the_item_as_a_reupload(
    online_item: Callable[..., Item], providers: SimProviders, liveness_config: LivenessConfig, settings: Any
) -> None:
    settings.HOTLINE_TAKEDOWN_MISSES = 1
    now = timezone.now()
    item = online_item(now)
    url = next(iter(providers.pages))
    providers._unpublish(url)
    takedown = _step(liveness_config, now)
    item.refresh_from_db()
    assert takedown.state == TakedownState.REMOVED and item.status == ItemStatus.CLOSED
    providers._publish(url)
    back = _due(takedown)
    takedown = _step(liveness_config, back)
    item.refresh_from_db()
    assert (takedown.state, takedown.reuploads, takedown.reappeared_at) == (TakedownState.REAPPEARED, 1, back)
    assert takedown.next_notice_at == back  # notify again at once (after a re-trace)
    assert item.status == ItemStatus.ASSESSED and item.reopened_at == back and item.verdict
    assert item.priority >= 4
    assert AuditEvent.objects.filter(action="item.reopened", object_id=str(item.pk)).exists()


def test_the_checker_keeps_to_the_per_host_limit(sim: SimWeb) -> None:
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    lock = threading.Condition()

    def slow(request: SimRequest) -> SimResponse:
        with lock:
            in_flight[request.host] = in_flight.get(request.host, 0) + 1
            peak[request.host] = max(peak.get(request.host, 0), in_flight[request.host])
            lock.notify_all()
            # Hold the first request of a host until a second one is in flight, so the limit is reached
            # however the threads happen to be scheduled (bounded: a broken checker fails, never hangs).
            lock.wait_for(lambda: peak[request.host] >= 2, timeout=30)
        time.sleep(0.05)  # stay in flight: a third request at once would show in the peak
        with lock:
            in_flight[request.host] -= 1
        return SimResponse(body=b"<p>still here</p>")

    sim.add_route("*", r"/polite/\d+", slow)
    targets = [Target(n, sim.url(f"h{n % 3}.sim.test", f"/polite/{n}")) for n in range(18)]
    # in_caller_for=0: the checking threads at once (a quick batch would be checked in the calling thread)
    results = Checker(sim.fetch_policy(), limiter=HostLimiter(2), in_caller_for=0).check_many(targets, concurrency=12)
    assert [r.outcome for _, r in results] == [HIT] * 18
    assert max(peak.values()) == 2 and set(peak) == {"h0.sim.test", "h1.sim.test", "h2.sim.test"}


def test_hosts_are_interleaved() -> None:
    targets = [Target(n, f"http://{host}.example/{n}") for n, host in enumerate("aaabbc")]
    assert [t.url.split("//")[1][0] for t in interleave_by_host(targets)] == list("abcaba")


def test_the_check_rhythm_follows_the_age_of_the_first_notice(settings: Any) -> None:
    now = timezone.now()
    takedown = Takedown(state=TakedownState.ONLINE, opened_at=now, first_notice_at=now)
    assert next_check_time(takedown, now + 10 * MIN) == now + 25 * MIN
    assert next_check_time(takedown, now + timedelta(hours=3)) == now + timedelta(hours=4)
    assert next_check_time(takedown, now + timedelta(days=2)) == now + timedelta(days=3)
    takedown.state, takedown.removal_confirmed_at = TakedownState.REMOVED, now
    assert next_check_time(takedown, now + timedelta(days=91)) is None  # the watch is over


def test_the_same_file_under_a_new_name_or_left_behind_still_counts_as_online(
    online_item: Callable[..., Item], providers: SimProviders, sim: SimWeb, liveness_config: LivenessConfig
) -> None:
    now = timezone.now()
    online_item(now)
    url = next(iter(providers.pages))
    host, path, media_path, data = providers.pages[url]
    sim.remove_page(host, media_path)
    sim.set_page(host, "/renamed.png", data, content_type="image/png")
    sim.set_page(host, path, '<p>new layout</p><img src="/renamed.png">')
    takedown = _step(liveness_config, now)
    assert (takedown.state, takedown.last_check_outcome) == (TakedownState.ONLINE, "hit:media_reembedded")
    sim.remove_page(host, path)  # the page is gone, but the file is still served at its captured address
    sim.set_page(host, media_path, data, content_type="image/png")
    takedown = _step(liveness_config, _due(takedown))
    assert (takedown.state, takedown.last_check_outcome) == (TakedownState.ONLINE, "hit:media_present")


def test_a_file_classified_not_illegal_still_online_does_not_keep_the_item_online(
        online_item: Callable[..., Item], providers: SimProviders, sim: SimWeb, liveness_config: LivenessConfig,
        make_media: Any) -> None:
    from hotline.assessment.models import Assessment, MediaAssessment
    from hotline.sim.images import make_image

    now = timezone.now()
    item = online_item(now)
    url = next(iter(providers.pages))
    host, _, media_path, _ = providers.pages[url]
    banner_bytes = make_image("png", 77, size=(64, 48))
    sim.set_page(host, "/banner.png", banner_bytes, content_type="image/png")
    banner = make_media(item, seed=77, data=banner_bytes)
    Media.objects.filter(pk=banner.pk).update(url=f"http://{host}/banner.png")
    illegal = Media.objects.filter(item=item).exclude(pk=banner.pk).get()
    assessment = Assessment.objects.create(item=item, created_at=now, is_final=True, verdict="baseline")
    MediaAssessment.objects.create(assessment=assessment, media=illegal, verdict="baseline")
    MediaAssessment.objects.create(assessment=assessment, media=banner, verdict="not_illegal", reason="other")
    sim.set_page(host, media_path, b"\x89PNG placeholder", content_type="image/png")  # the illegal file is gone
    takedown = _step(liveness_config, now)
    assert takedown.state == TakedownState.REMOVAL_PENDING  # the banner still being there does not count


def test_what_was_captured_is_read_with_sql_compiled_once_per_batch_size_as_the_queryset_reads_it(
        make_item: Callable[..., Item], make_media: Any) -> None:
    """``_targets`` runs ``captured_files`` compiled once per batch size with the batch's item ids bound: the
    same rows as the queryset for each batch (a file classified not illegal, a bad file and one without a
    hash left out), one query per call once compiled."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hotline.assessment.models import Assessment, MediaAssessment
    from hotline.takedown.services.liveness import _Claimed, _targets, captured_files

    now = timezone.now()
    items = [make_item(captured=False) for _ in range(5)]
    for n, item in enumerate(items):
        for k in range(2):
            make_media(item, seed=10 * n + k, data=f"file {n}.{k}".encode())
    first, second = (Media.objects.filter(item=items[0]).order_by("pk"))
    assessment = Assessment.objects.create(item=items[0], created_at=now, is_final=True, verdict="baseline")
    MediaAssessment.objects.create(assessment=assessment, media=first, verdict="baseline")
    MediaAssessment.objects.create(assessment=assessment, media=second, verdict="not_illegal", reason="other")
    Media.objects.filter(item=items[1]).filter(pk=Media.objects.filter(item=items[1]).order_by("pk")[0].pk).update(
        is_bad=True)
    Media.objects.filter(item=items[2]).update(sha256="")
    takedowns = {item.pk: Takedown.objects.create(item=item, state_changed_at=now, opened_at=now, reported_at=now)
                 for item in items}
    for batch in ([items[0]], items[:3], items[1:4], items[::-1], [items[4], items[2]]):
        claimed = [_Claimed(takedowns[item.pk], item.canonical_url) for item in batch]
        with CaptureQueriesContext(connection) as context:
            targets = _targets(claimed)
        assert len(context.captured_queries) == 1
        expected: dict[int, dict[str, str]] = {item.pk: {} for item in batch}
        for item_id, url, sha256 in captured_files([item.pk for item in batch]):
            expected[item_id][url] = sha256
        assert [(t.key, t.url, t.media) for t in targets] == [
            (takedowns[item.pk].pk, item.canonical_url, expected[item.pk]) for item in batch]
    assert _targets([_Claimed(takedowns[items[0].pk], "")])[0].media == {first.url: first.sha256}
    assert _targets([_Claimed(takedowns[items[2].pk], "")])[0].media == {}
    assert len(_targets([_Claimed(takedowns[items[1].pk], "")])[0].media) == 1


def test_the_claim_leases_the_due_checks_in_order_with_sql_compiled_once(make_item: Callable[..., Item]) -> None:
    """``claim_checks`` reads the due takedowns (oldest due first, up to the limit) with their item's URL and the
    fields the next check is decided by, as the ORM gives them, and leases them: the probe, the read and the
    lease are three queries, and a later claim of as many rows compiles nothing new."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hotline.lib import prepared
    from hotline.takedown.services.liveness import CHECK_LEASE, claim_checks

    now = timezone.now()
    items = [make_item() for _ in range(6)]
    dues = [now - 5 * MIN, now - 9 * MIN, now, now + MIN, now - 9 * MIN, None]
    takedowns = [Takedown.objects.create(item=item, state_changed_at=now, opened_at=now - timedelta(hours=n),
                                         reported_at=now, first_notice_at=now - n * MIN, next_check_at=due)
                 for n, (item, due) in enumerate(zip(items, dues, strict=True))]
    def statements(context: CaptureQueriesContext) -> int:  # the test's transaction adds savepoints
        return sum(1 for query in context.captured_queries if "SAVEPOINT" not in query["sql"])

    with CaptureQueriesContext(connection) as context:
        claimed = claim_checks(now, 3)
    assert statements(context) == 3
    assert [entry.takedown.pk for entry in claimed] == [takedowns[1].pk, takedowns[4].pk, takedowns[0].pk]
    for entry in claimed:
        stored = Takedown.objects.select_related("item").get(pk=entry.takedown.pk)
        assert entry.url == stored.item.canonical_url
        assert (entry.takedown.first_notice_at, entry.takedown.opened_at, entry.takedown.state) == (
            stored.first_notice_at, stored.opened_at, stored.state)
        assert next_check_time(entry.takedown, now) == next_check_time(stored, now)
        assert stored.next_check_at == now + CHECK_LEASE
    compiled = len(prepared._COMPILED)
    assert {"takedown.claim_checks", "takedown.check_lease"} <= {key[2] for key in prepared._COMPILED}
    # the lease's ids padded to a power of two: a claim of any size compiles a handful of leases, not one per size
    leases = {key[4] for key in prepared._COMPILED if key[2] == "takedown.check_lease"}
    assert (("pks", 4),) in leases and (("pks", 3),) not in leases
    later = now + 20 * MIN  # the two not leased first, then the leased ones (due at the lease's end) by pk
    with CaptureQueriesContext(connection) as context:
        again = claim_checks(later, 3)
    assert statements(context) == 3 and len(prepared._COMPILED) == compiled
    assert [entry.takedown.pk for entry in again] == [takedowns[2].pk, takedowns[3].pk, takedowns[0].pk]
    assert claim_checks(now, 3) == []  # every one leased or not yet due


def test_the_checking_threads_are_kept_across_calls_and_one_check_runs_in_the_caller(sim: SimWeb) -> None:
    """A busy liveness step checks a few items every few seconds: the threads of one call serve the next (at
    most ``concurrency`` threads over many calls), and a single check runs in the calling thread."""
    seen: list[threading.Thread] = []
    lock = threading.Lock()

    class Recording(Checker):
        def check(self, target: Target) -> Any:
            with lock:
                seen.append(threading.current_thread())
            return super().check(target)

    sim.add_route("*", r"/kept/\d+", lambda request: SimResponse(body=b"<p>here</p>"))
    checker = Recording(sim.fetch_policy(), limiter=HostLimiter(2), in_caller_for=0)
    for call in range(10):
        targets = [Target(n, sim.url(f"k{n}.sim.test", f"/kept/{call}{n}")) for n in range(4)]
        assert [r.outcome for _, r in checker.check_many(targets, concurrency=3)] == [HIT] * 4
    assert len(seen) == 40 and len(set(seen)) <= 3 and threading.current_thread() not in seen
    seen.clear()
    [(_, alone)] = checker.check_many([Target(1, sim.url("k1.sim.test", "/kept/1"))], concurrency=3)
    assert alone.outcome == HIT and seen == [threading.current_thread()]


def test_a_batch_answered_quickly_is_checked_in_the_calling_thread(sim: SimWeb) -> None:
    """Threads only shorten a batch whose answers are waited for; one that finishes within ``in_caller_for`` in
    the calling thread is checked there, in the interleaved order, with the same results."""
    seen: list[tuple[int, threading.Thread]] = []

    class Recording(Checker):
        def check(self, target: Target) -> Any:
            seen.append((target.key, threading.current_thread()))
            return super().check(target)

    sim.add_route("*", r"/quick/\d+", lambda request: SimResponse(body=b"<p>here</p>"))
    sim.set_page("q9.sim.test", "/quick/gone", b"gone", status=404)
    targets = [Target(n, sim.url(f"q{n % 2}.sim.test", f"/quick/{n}")) for n in range(5)]
    targets.append(Target(9, sim.url("q9.sim.test", "/quick/gone")))
    checker = Recording(sim.fetch_policy(), limiter=HostLimiter(2), in_caller_for=3600)
    results = checker.check_many(targets, concurrency=8)
    assert [(t.key, r.outcome, r.code) for t, r in results] == [
        (0, HIT, "online"), (1, HIT, "online"), (9, MISS, "http_404"), (2, HIT, "online"), (3, HIT, "online"),
        (4, HIT, "online")]
    assert seen == [(t.key, threading.current_thread()) for t, _ in results]
