from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from warcio.archiveiterator import ArchiveIterator

from hotline.audit.models import AuditEvent
from hotline.audit.services import verify
from hotline.evidence.models import Blob, Capture, Media
from hotline.evidence.services import CaptureConfig, capture_item, claim_due
from hotline.evidence.steps import capture_step
from hotline.evidence.store import get_blob_bytes, put_blob
from hotline.reports.models import Item, ItemStatus
from hotline.sim.images import make_image
from hotline.sim.web import SimWeb

pytestmark = pytest.mark.django_db
MakeItem = Callable[..., Item]


def _new(make_item: MakeItem, url: str) -> Item:
    return make_item(url, captured=False)


def test_a_page_and_all_its_media_are_captured(sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem) -> None:
    item = _new(make_item, sim.url("gallery.sim.test", "/"))
    capture = capture_item(item, config=capture_config)
    item.refresh_from_db()
    assert (capture.outcome, item.status, item.next_capture_at) == ("captured", ItemStatus.CAPTURED, None)
    assert capture.peer_ip == "127.0.0.1" and capture.http_status == 200
    media = list(Media.objects.filter(capture=capture).order_by("pk"))
    expected = {
        u if u.startswith("http") else sim.url("gallery.sim.test", u) for u in sim.site_media("gallery.sim.test")
    }
    assert {m.url for m in media} == expected
    mimes = {m.mime for m in media}
    assert {"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"} <= mimes
    for m in media:
        assert not m.is_bad, (m.url, m.bad_reason)
        assert len(m.sha256) == 64 and len(m.md5) == 32 and len(m.sha1) == 40 and m.size > 0
        assert m.blob is not None and get_blob_bytes(m.blob) != b""
        if m.kind == "image":
            assert m.width and m.height and len(m.pdq) == 64 and m.pdq_quality is not None
    animated = next(m for m in media if "animated_gif" in m.url)
    assert animated.frames and animated.frames > 1
    event = AuditEvent.objects.get(action="item.captured")
    assert event.after is not None and event.after["media"] == len(media)
    assert verify().ok


def test_the_warc_holds_every_exchange_with_ip_and_digests(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    item = _new(make_item, sim.url("shop.sim.test", "/"))
    capture = capture_item(item, config=capture_config)
    assert capture.warc is not None
    raw = get_blob_bytes(capture.warc)
    kinds: dict[str, int] = {}
    responses: dict[str, bytes] = {}
    for record in ArchiveIterator(io.BytesIO(raw)):
        kinds[record.rec_type] = kinds.get(record.rec_type, 0) + 1
        if record.rec_type in ("request", "response"):
            assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        if record.rec_type == "response":
            assert record.rec_headers.get_header("WARC-Payload-Digest", "").startswith("sha1:")
            responses[record.rec_headers.get_header("WARC-Target-URI")] = record.content_stream().read()
        if record.rec_type == "metadata":
            assert b'"item_id": %d' % item.pk in record.content_stream().read()
    media_count = Media.objects.filter(capture=capture).count()
    assert kinds == {"warcinfo": 1, "request": media_count + 1, "response": media_count + 1, "metadata": 1}
    for m in Media.objects.filter(capture=capture):
        assert m.blob is not None and responses[m.url] == get_blob_bytes(m.blob)


def test_a_direct_media_url_is_its_own_media(sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem) -> None:
    item = _new(make_item, sim.url("files.sim.test", "/media/png-7.png"))
    capture = capture_item(item, config=capture_config)
    [media] = Media.objects.filter(capture=capture)
    assert media.mime == "image/png" and capture.page_mime == "image/png"


def test_broken_media_are_recorded_as_bad_not_a_crash(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    page = (
        b'<img src="/broken/truncated-jpeg-3.jpg"><img src="/broken/garbage-4.png">'
        b'<img src="/status/404"><img src="/media/png-5.png">'
    )
    sim.set_page("forum.sim.test", "/broken-page", page)
    item = _new(make_item, sim.url("forum.sim.test", "/broken-page"))
    capture = capture_item(item, config=capture_config)
    media = {m.url.rsplit("/", 1)[-1]: m for m in Media.objects.filter(capture=capture)}
    assert media["truncated-jpeg-3.jpg"].is_bad and media["truncated-jpeg-3.jpg"].bad_reason
    assert media["garbage-4.png"].is_bad and media["garbage-4.png"].mime == "application/octet-stream"
    assert media["404"].is_bad and "HTTP 404" in media["404"].bad_reason
    assert not media["png-5.png"].is_bad
    assert Item.objects.get(pk=item.pk).status == ItemStatus.CAPTURED


@pytest.mark.parametrize(
    "path,code,reason,retry",
    [
        ("/status/404", "http_404", "site_down", False),
        ("/status/410", "http_410", "content_not_found", False),
        ("/status/503", "http_503", "temporarily_unavailable", True),
        ("/redirect/private", "blocked_address", "unable_to_access", False),
        ("/redirect/metadata", "blocked_address", "unable_to_access", False),
    ],
)
def test_failures_get_a_reason_code_and_retries_when_it_may_help(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem, path: str, code: str, reason: str, retry: bool
) -> None:
    item = _new(make_item, sim.url("blog.sim.test", path))
    now = timezone.now()
    capture = capture_item(item, config=capture_config, now=now)
    item.refresh_from_db()
    assert (capture.failure_code, capture.reason_code) == (code, reason)
    assert capture.failure_reason
    if retry:
        # Unreachable (so in the queue) at once, while the retries still run.
        assert item.status == ItemStatus.UNREACHABLE and item.next_capture_at == now + timedelta(minutes=5)
        assert item in Item.objects.awaiting_assessment() and item in Item.objects.capture_due(item.next_capture_at)
        capture_item(item, config=capture_config, now=now)
        capture_item(Item.objects.get(pk=item.pk), config=capture_config, now=now)
        item.refresh_from_db()
    assert item.status == ItemStatus.UNREACHABLE and item.next_capture_at is None
    last = AuditEvent.objects.filter(action="item.unreachable").last()
    assert last is not None and last.after is not None and last.after["reason_code"] == reason


def test_a_bomb_and_a_huge_page_are_refused(sim: SimWeb, make_item: MakeItem) -> None:
    config = CaptureConfig(
        policy=sim.fetch_policy(max_body_bytes=2_000_000, max_decompressed_bytes=4_000_000, total_timeout=10.0),
        max_attempts=1,
    )
    for path, code in (("/bomb.gz", "decompression_bomb"), ("/huge?bytes=50000000", "too_large")):
        capture = capture_item(_new(make_item, sim.url("files.sim.test", path)), config=config)
        assert capture.failure_code == code


def test_the_worker_step_claims_each_due_item_once(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    items = [_new(make_item, sim.url("gallery.sim.test", f"/page/{n}")) for n in range(3)]
    now = timezone.now()
    first = claim_due(now, 10)
    assert {i.pk for i in first} == {i.pk for i in items}
    assert claim_due(now, 10) == []  # leased
    Item.objects.filter(pk__in=[i.pk for i in items]).update(next_capture_at=now)
    steps = 0
    while capture_step(now=now, config=capture_config, concurrency=1):
        steps += 1
    assert steps == 3
    assert all(Item.objects.get(pk=i.pk).status == ItemStatus.CAPTURED for i in items)
    assert Capture.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_several_items_are_captured_in_parallel_threads(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    items = [_new(make_item, sim.url("shop.sim.test", f"/page/{n}")) for n in range(5)]
    assert capture_step(config=capture_config, concurrency=5) is True
    assert sorted(Capture.objects.values_list("item_id", flat=True)) == sorted(i.pk for i in items)
    assert not Item.objects.filter(status=ItemStatus.NEW).exists()
    assert verify().ok


def test_no_plaintext_of_captured_files_reaches_disk_or_database(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    item = _new(make_item, sim.url("gallery.sim.test", "/"))
    capture = capture_item(item, config=capture_config)
    needles = []
    for m in Media.objects.filter(capture=capture):
        assert m.blob is not None
        data = get_blob_bytes(m.blob)
        needles.append(data[len(data) // 3 : len(data) // 3 + 32])  # a 32-byte slice from inside each file
    root = Path(str(settings.HOTLINE_STORE["ROOT"]))
    haystacks = [p.read_bytes() for p in root.rglob("*") if p.is_file()]
    assert haystacks
    if connection.vendor == "sqlite":
        database = Path(str(connection.settings_dict["NAME"]))
        haystacks += [p.read_bytes() for p in (database, database.with_name(database.name + "-wal")) if p.exists()]
    for needle in needles:
        assert not any(needle in hay for hay in haystacks)


def test_a_retry_that_succeeds_captures_the_item_unless_an_analyst_assessed_it_meanwhile(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    now = timezone.now()
    sim.set_page("blog.sim.test", "/flaky", b"busy", status=503)
    flaky, settled = (_new(make_item, sim.url("blog.sim.test", f"/flaky?n={n}")) for n in range(2))
    for item in (flaky, settled):
        capture_item(Item.objects.get(pk=item.pk), config=capture_config, now=now)
    assert {i.status for i in Item.objects.filter(pk__in=[flaky.pk, settled.pk])} == {ItemStatus.UNREACHABLE}
    Item.objects.filter(pk=settled.pk).update(status=ItemStatus.ASSESSED, verdict="unreachable")

    sim.set_page("blog.sim.test", "/flaky", b"<p>back</p>")
    later = now + timedelta(minutes=5)
    assert {i.pk for i in Item.objects.capture_due(later)} == {flaky.pk}
    capture_item(Item.objects.get(pk=flaky.pk), config=capture_config, now=later)
    capture_item(Item.objects.get(pk=settled.pk), config=capture_config, now=later)  # a late worker
    assert Item.objects.get(pk=flaky.pk).status == ItemStatus.CAPTURED
    assert Item.objects.get(pk=settled.pk).status == ItemStatus.ASSESSED


def _page_of(sim: SimWeb, files: int, seed: int) -> str:
    for n in range(files):
        sim.set_page("blog.sim.test", f"/q{seed}/{n}.png", make_image("png", seed + n), content_type="image/png")
    sim.set_page("blog.sim.test", f"/q{seed}/", "<!doctype html><title>t</title>" + "".join(
        f'<img src="/q{seed}/{n}.png">' for n in range(files)))
    return sim.url("blog.sim.test", f"/q{seed}/")


def test_a_capture_makes_the_same_queries_whatever_its_number_of_files(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    """The WARC and the files are looked up in the store with one query and their new rows written with one
    INSERT (was a look-up and an insert per blob), so a page of 5 files costs the queries of a page of 2;
    every file is still stored, once, and its row points at its blob."""
    counts = []
    for files, seed in ((2, 300), (5, 400)):
        item = _new(make_item, _page_of(sim, files, seed))
        blobs_before = Blob.objects.count()
        with CaptureQueriesContext(connection) as context:
            capture = capture_item(item, config=capture_config)
        counts.append(len(context.captured_queries))
        media = list(Media.objects.filter(capture=capture).order_by("url"))
        assert capture.outcome == "captured" and len(media) == files and not any(m.is_bad for m in media)
        assert [get_blob_bytes(m.blob) for m in media if m.blob] == [make_image("png", seed + n) for n in range(files)]
        assert capture.warc is not None and Blob.objects.count() == blobs_before + files + 1
    assert counts[0] == counts[1], counts


def test_a_file_stored_before_and_a_repeated_file_are_not_stored_again(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem
) -> None:
    known = put_blob(make_image("png", 500))
    for name, seed in (("a", 500), ("b", 501), ("c", 501)):
        sim.set_page("blog.sim.test", f"/rep/{name}.png", make_image("png", seed), content_type="image/png")
    sim.set_page("blog.sim.test", "/rep/", '<img src="/rep/a.png"><img src="/rep/b.png"><img src="/rep/c.png">')
    capture = capture_item(_new(make_item, sim.url("blog.sim.test", "/rep/")), config=capture_config)
    media = {m.url.rsplit("/", 1)[1]: m for m in Media.objects.filter(capture=capture)}
    assert media["a.png"].blob_id == known.pk
    assert media["b.png"].blob_id == media["c.png"].blob_id != known.pk
    assert Blob.objects.count() == 3  # the known file, the new one, the WARC


def test_a_batch_is_fetched_in_kept_threads_and_recorded_in_the_calling_thread(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem, caplog: pytest.LogCaptureFixture
) -> None:
    """The fetches of a batch run in threads kept across calls, with no database; every item is stored and
    recorded on the calling thread's connection (no thread opens one). An item whose recording fails is
    logged and stays leased; the others are recorded."""
    from hotline.evidence.services import capture_items

    now = timezone.now()
    for batch in range(2):
        items = [_new(make_item, sim.url("shop.sim.test", f"/batch/{batch}/{n}")) for n in range(4)]
        if batch:  # gone before its capture is recorded: the recording fails, the rest go on
            vanishing = items[1]
            Item.objects.filter(pk=vanishing.pk).delete()
        with CaptureQueriesContext(connection) as context:
            capture_items(items, config=capture_config, now=now, concurrency=3)
        inserts = [q for q in context.captured_queries if q["sql"].startswith('INSERT INTO "evidence_capture"')]
        recorded = [item for item in items if not batch or item is not vanishing]
        assert len(inserts) == len(recorded)
        assert set(Capture.objects.filter(item__in=[i.pk for i in recorded]).values_list("item_id", flat=True)) == {
            i.pk for i in recorded}
    assert f"capture of item {vanishing.pk} failed" in caplog.text
    kept = [t for t in threading.enumerate() if t.name.startswith("capture")]
    assert 0 < len(kept) <= 3  # the batches' threads, kept: no more than the concurrency


def test_each_file_is_hashed_once_and_stored_under_its_hash(
    sim: SimWeb, capture_config: CaptureConfig, make_item: MakeItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store takes each file's SHA-256 from the file's analysis (the same bytes) and hashes only the WARC;
    every blob still decrypts to bytes of its recorded hash, and the item's write is the one ``save`` made."""
    import hashlib

    from hotline.evidence import store

    hashed: list[int] = []

    class CountingHashlib:
        def __getattr__(self, name: str) -> object:
            return getattr(hashlib, name)

        @staticmethod
        def sha256(data: bytes = b"") -> object:
            hashed.append(len(data))
            return hashlib.sha256(data)

    monkeypatch.setattr(store, "hashlib", CountingHashlib())
    now = timezone.now()
    item = _new(make_item, _page_of(sim, 2, 600))
    capture = capture_item(item, config=capture_config, now=now)
    media = list(Media.objects.filter(capture=capture).order_by("url"))
    assert capture.warc is not None and hashed == [capture.warc.size]  # the WARC only, once
    for m, seed in zip(media, (600, 601), strict=True):
        assert m.blob is not None and m.blob.sha256 == m.sha256
        assert get_blob_bytes(m.blob) == make_image("png", seed)  # checks the bytes against the recorded hash
    item.refresh_from_db()
    assert (item.status, item.status_changed_at, item.captured_at, item.capture_attempts, item.next_capture_at) == (
        ItemStatus.CAPTURED, now, now, 1, None)
    assert capture.item.captured_at == now and capture.item.capture_attempts == 1
