"""Retention purge throughput: batched purge (the worker's path) against one row per transaction.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/retention_purge.py [--media 4000]
    python bench/retention_purge.py            # SQLite in a temporary directory

Builds two equal sets of not-illegal items, each with one media file (random synthetic bytes,
stored encrypted like a capture), settled 100 days ago, and times the plan over both. Set B is
purged first by the baseline: the same work one row per transaction, one audit event per row.
Set A is then purged by ``run_class`` (batches of ``HOTLINE_RETENTION_BATCH``: lock, markers,
pointers, blob rows, one audit event per batch). Prints media/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def scratch_database(url: str) -> str:
    import psycopg

    parts = urlparse(url)
    name = f"{parts.path.lstrip('/') or 'hotline'}_retention_bench"
    admin = urlunparse(parts._replace(path="/postgres"))  # the scratch database may not exist yet
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def build(count: int, tag: str) -> list[int]:
    """``count`` not-illegal items settled 100 days ago, one stored media file each; their media ids."""
    from django.utils import timezone

    from hotline.evidence.models import Capture, Media
    from hotline.evidence.store import put_blob
    from hotline.reports.models import Item

    now = timezone.now()
    settled = now - timedelta(days=100)
    items = Item.objects.bulk_create([
        Item(raw_url=f"http://{tag}-{n}.sim.test/", canonical_url=f"http://{tag}-{n}.sim.test/",
             dedup_key=f"{tag}{n:060d}", host=f"{tag}-{n}.sim.test", status="assessed", verdict="not_illegal",
             first_reported_at=settled, last_reported_at=settled, status_changed_at=settled, assessed_at=settled)
        for n in range(count)])
    captures = Capture.objects.bulk_create([
        Capture(item=item, started_at=settled, finished_at=settled, outcome="captured",
                requested_url=item.canonical_url) for item in items])
    media = []
    for capture in captures:
        blob = put_blob(secrets.token_bytes(2048))
        media.append(Media(capture=capture, item_id=capture.item_id, url=capture.requested_url, blob=blob,
                           kind="image", size=blob.size, sha256=blob.sha256, fetched_at=settled))
    return [m.pk for m in Media.objects.bulk_create(media)]


def baseline(ids: list[int]) -> float:
    """The same destruction, one row per transaction, each with its own audit event."""
    from django.db import transaction
    from django.utils import timezone

    from hotline.audit.services import SYSTEM, record
    from hotline.evidence.models import Media
    from hotline.retention.blobs import destroy_unreferenced
    from hotline.retention.policy import mark_purged

    started = time.perf_counter()
    for pk in ids:
        with transaction.atomic():
            media = Media.objects.select_for_update(of=("self",)).select_related("blob").get(pk=pk)
            assert media.blob is not None
            now = timezone.now()
            mark_purged("media", {pk: media.blob.sha256}, now)
            Media.objects.filter(pk=pk).update(blob=None)
            destroyed = destroy_unreferenced([media.blob.pk])
            record(SYSTEM, "retention.purged", ("retention.class", "media"), now=now,
                   after={"count": 1, "digests": [b.sha256 for b in destroyed]})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--media", type=int, default=4000, help="media files per set")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="retention-bench-"))
    base_url = os.environ.get("DATABASE_URL", "")
    os.environ["DATABASE_URL"] = (scratch_database(base_url) if base_url.startswith("postgres")
                                  else f"sqlite:///{work / 'bench.sqlite3'}")
    os.environ["HOTLINE_STORE_ROOT"] = str(work / "store")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings_test")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.HOTLINE_STORE = {"BACKEND": "filesystem", "ROOT": str(work / "store")}
    call_command("migrate", verbosity=0)
    from hotline.audit.services import verify
    from hotline.evidence.models import Media
    from hotline.retention import registry
    from hotline.retention.services import plan, run_class

    batched_ids, baseline_ids = build(args.media, "a"), build(args.media, "b")
    started = time.perf_counter()
    planned = {p.policy.name: p for p in plan(days=28)}["media"]
    plan_seconds = time.perf_counter() - started
    assert planned.due_now == 2 * args.media

    baseline_seconds = baseline(baseline_ids)  # set B first: the batched run then finds set A only
    started = time.perf_counter()
    summary = run_class(registry.policy("media"))
    batched_seconds = time.perf_counter() - started
    assert summary.purged == args.media and not Media.objects.filter(pk__in=batched_ids, blob__isnull=False)
    audit = verify()
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database:                {engine}; {args.media:,} media per set, batch {settings.HOTLINE_RETENTION_BATCH}")
    print(f"plan over {2 * args.media:,} due rows:  {plan_seconds:6.2f} s")
    print(f"batched purge (worker):  {batched_seconds:6.2f} s = {args.media / batched_seconds:8,.0f} media/s "
          f"({summary.batches} batches)")
    print(f"one row per transaction: {baseline_seconds:6.2f} s = {args.media / baseline_seconds:8,.0f} media/s")
    print(f"ratio:                   {baseline_seconds / batched_seconds:6.1f}x faster batched; audit chain "
          f"{'intact' if audit.ok else 'BROKEN'} ({audit.checked:,} events)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
