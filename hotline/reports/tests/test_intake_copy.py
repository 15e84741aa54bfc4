"""Batch intake writes rows as COPY text built by us (hotline.lib.bulk): hostile text must arrive intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, Actor, Change, record_bulk, verify
from hotline.lib.bulk import copy_insert, insert_or_find
from hotline.reports.models import Item, Report
from hotline.reports.services import IncomingReport, receive_reports

pytestmark = pytest.mark.django_db

# Every character COPY's text format treats specially, the NULL marker as text, and non-ASCII.
HOSTILE = ["tab\there", "new\nline", "carriage\rreturn", "back\\slash", "\\N", "", "ç €😀", "a\\tb\\n", " \\\\ "]


def test_copy_insert_stores_hostile_text_and_times_as_given() -> None:
    with_offset = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    rows = [
        {
            "reference": f"HL-TEST-{n:04d}",
            "source": "partner",
            "received_at": with_offset,
            "text": text,
            "reporter_contact": text,
            "external_ref": text,
            "url_count": n,
        }
        for n, text in enumerate(HOSTILE)
    ]
    ids = copy_insert(Report, rows)
    stored = {r.pk: r for r in Report.objects.filter(pk__in=ids)}
    for pk, row in zip(ids, rows, strict=True):
        report = stored[pk]
        assert (report.text, report.reporter_contact, report.external_ref) == (row["text"],) * 3
        assert report.received_at == with_offset and report.url_count == row["url_count"]
        assert report.kind == "url" and report.api_client_id is None and report.language == ""


def test_insert_or_find_keeps_hostile_raw_urls_and_finds_existing_ones() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)

    def row(n: int, raw: str) -> dict[str, object]:
        return {
            "raw_url": raw,
            "canonical_url": f"http://h{n}.sim.test/",
            "dedup_key": f"{n:064d}",
            "host": f"h{n}.sim.test",
            "status": "new",
            "report_count": 1,
            "priority": 0,
            "first_reported_at": now,
            "last_reported_at": now,
            "status_changed_at": now,
            "next_capture_at": None,
        }

    first, created = insert_or_find(Item, [row(n, raw) for n, raw in enumerate(HOSTILE)], unique="dedup_key")
    assert created == set(first) and len(first) == len(HOSTILE)
    again, created_again = insert_or_find(Item, [row(0, "other"), row(99, "new")], unique="dedup_key")
    assert created_again == {f"{99:064d}"} and again[f"{0:064d}"] == first[f"{0:064d}"]
    for n, raw in enumerate(HOSTILE):
        item = Item.objects.get(pk=first[f"{n:064d}"])
        assert item.raw_url == raw and item.next_capture_at is None and item.first_reported_at == now


def test_audit_events_with_hostile_text_verify() -> None:
    from django.db import transaction

    actor = Actor(label="api:tab\there \\ ç")
    changes = [
        Change("item.created", ("reports.item", n), after={"url": text, "n": n}) for n, text in enumerate(HOSTILE)
    ]
    changes.append(Change("item.report_added", ("reports.item", "x\ty"), before={"k": None}, after=None))
    with transaction.atomic():
        assert record_bulk(actor, changes) == len(changes)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.after for e in events[:-1]] == [{"url": text, "n": n} for n, text in enumerate(HOSTILE)]
    assert (events[-1].object_id, events[-1].before, events[-1].after) == ("x\ty", {"k": None}, None)
    assert {e.actor_label for e in events} == {actor.label}
    assert verify().ok


def test_a_batch_of_hostile_urls_round_trips() -> None:
    urls = ["http://a.sim.test/x\\y", "http://b.sim.test/\u00e7", " http://c.sim.test/tab\tinside "]
    result = receive_reports(
        [IncomingReport(source="partner", urls=urls, text="line\none\\", external_ref="r\t1")], actor=SYSTEM
    )[0]
    assert [u.result for u in result.urls] == ["created"] * 3
    report = Report.objects.get(reference=result.reference)
    assert (report.text, report.external_ref) == ("line\none\\", "r\t1")
    assert sorted(report.links.values_list("raw_url", flat=True)) == sorted(urls)
    assert verify().ok


def test_an_item_s_dedup_key_is_unique_through_one_index_only() -> None:
    """A SHA-256 key is looked up by equality only: no second (PostgreSQL ``varchar_pattern_ops``) index for LIKE
    that every intake would maintain for nothing; and a duplicate key is refused by the database."""
    from django.db import IntegrityError, connection, transaction

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Item._meta.db_table)
    on_key = {name: c for name, c in found.items() if c["columns"] == ["dedup_key"]}
    assert len(on_key) == 1, on_key
    assert next(iter(on_key.values()))["unique"]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    row = {"raw_url": "http://a.test/", "canonical_url": "http://a.test/", "dedup_key": "k" * 64, "host": "a.test",
           "first_reported_at": now, "last_reported_at": now, "status_changed_at": now}
    Item.objects.create(**row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.create(**row)
