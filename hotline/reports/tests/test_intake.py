from __future__ import annotations

import re

import pytest
from django.db import connection

from hotline.audit.models import AuditEvent
from hotline.audit.services import SYSTEM, verify
from hotline.reports.models import Item, Report, ReportItem, Source, normalize_reference
from hotline.reports.services import IncomingReport, public_status, receive_reports

pytestmark = pytest.mark.django_db

SAME = [
    "http://gallery-1.sim.test/album/7/",
    "HTTP://GALLERY-1.SIM.TEST/album/7/",
    "gallery-1.sim.test/album/7/",
    "http://gallery-1.sim.test:80/album/7/#photo",
    " http://gallery-1.sim.test./album/x/../7/\t",
    "http://gallery-1.sim.test/%2561lbum/7/",
    "http://gallery-1.sim.test/alb\num/7/",
]


def _one(*urls: str, source: str = Source.PUBLIC, **kw: object) -> IncomingReport:
    return IncomingReport(source=source, urls=list(urls), **kw)  # type: ignore[arg-type]


def test_it_lands_every_spelling_of_one_resource_on_one_item() -> None:
    results = receive_reports([_one(url) for url in SAME], actor=SYSTEM)
    assert Item.objects.count() == 1
    item = Item.objects.get()
    assert item.canonical_url == "http://gallery-1.sim.test/album/7/"
    assert item.report_count == len(SAME)
    assert [r.urls[0].result for r in results] == ["created"] + ["merged"] * (len(SAME) - 1)
    assert item.raw_url == SAME[0]


def test_it_keeps_different_resources_apart() -> None:
    receive_reports([_one("http://a.sim.test/x?id=1", "http://a.sim.test/x?id=2",
                          "https://a.sim.test/x?id=1", "http://a.sim.test:8080/x?id=1",
                          "http://a.sim.test/X?id=1")], actor=SYSTEM)
    assert Item.objects.count() == 5


def test_a_bad_url_is_rejected_with_a_reason_and_the_rest_is_kept() -> None:
    [result] = receive_reports([_one("http://ok.sim.test/1", "ftp://files.sim.test/x", "not a url",
                                     "http://ok.sim.test/2")], actor=SYSTEM)
    outcomes = [(u.index, u.result, u.code) for u in result.urls]
    assert outcomes == [(0, "created", None), (1, "rejected", "bad_scheme"),
                        (2, "rejected", result.urls[2].code), (3, "created", None)]
    assert result.urls[1].reason and "ftp" in result.urls[1].reason
    assert Report.objects.get().url_count == 2


def test_a_report_with_only_bad_urls_is_not_stored_but_answered() -> None:
    [result] = receive_reports([_one("javascript:alert(1)")], actor=SYSTEM)
    assert result.reference is None and result.urls[0].result == "rejected"
    assert Report.objects.count() == 0


def test_the_same_url_twice_in_one_report_counts_once() -> None:
    [result] = receive_reports([_one("http://a.sim.test/p", "HTTP://A.sim.test/p#x")], actor=SYSTEM)
    assert [u.result for u in result.urls] == ["created", "merged"]
    assert result.urls[0].item_id == result.urls[1].item_id
    assert Item.objects.get().report_count == 1
    assert ReportItem.objects.count() == 1


def test_priority_rises_for_partner_reports_and_repeats() -> None:
    receive_reports([_one("http://p.sim.test/1")], actor=SYSTEM)
    assert Item.objects.get().priority == 0
    receive_reports([_one("http://p.sim.test/1")], actor=SYSTEM)
    assert Item.objects.get().priority == 1
    receive_reports([_one("http://p.sim.test/1", source=Source.POLICE)], actor=SYSTEM)
    item = Item.objects.get()
    assert (item.priority, item.report_count) == (3, 3)
    receive_reports([_one("http://q.sim.test/1", source=Source.PARTNER)], actor=SYSTEM)
    assert Item.objects.get(host="q.sim.test").priority == 2


def test_the_queue_puts_partner_and_repeated_items_first_then_oldest() -> None:
    receive_reports([_one("http://old.sim.test/")], actor=SYSTEM)
    receive_reports([_one("http://partner.sim.test/", source=Source.PARTNER)], actor=SYSTEM)
    receive_reports([_one("http://twice.sim.test/")], actor=SYSTEM)
    receive_reports([_one("http://twice.sim.test/")], actor=SYSTEM)
    receive_reports([_one("http://new.sim.test/")], actor=SYSTEM)
    assert not Item.objects.awaiting_assessment().exists()  # nothing is assessed before capture
    Item.objects.update(status="captured")
    order = [i.host for i in Item.objects.awaiting_assessment()]
    assert order == ["partner.sim.test", "twice.sim.test", "old.sim.test", "new.sim.test"]


def test_reporter_contact_is_encrypted_at_rest() -> None:
    receive_reports([_one("http://c.sim.test/", reporter_contact="reporter@mail.example")], actor=SYSTEM)
    report = Report.objects.get()
    assert report.reporter_contact == "reporter@mail.example"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_contact FROM reports_report")
        stored = cursor.fetchone()[0]
    assert "reporter" not in stored and stored.startswith("v1:test1:")


def test_references_are_random_and_readable() -> None:
    results = receive_reports([_one(f"http://r{i}.sim.test/") for i in range(20)], actor=SYSTEM)
    refs = [r.reference for r in results]
    assert len(set(refs)) == 20
    assert all(re.fullmatch(r"HL-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", r or "")
               for r in refs)


def test_every_new_item_and_merge_is_audited_in_one_chain() -> None:
    receive_reports([_one("http://a.sim.test/", "http://b.sim.test/"), _one("http://a.sim.test/")],
                    actor=SYSTEM)
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions.count("report.received") == 2
    assert actions.count("item.created") == 2
    assert actions.count("item.report_added") == 1
    assert verify().ok


def test_public_status_is_coarse(make_item: object) -> None:
    [result] = receive_reports([_one("http://s.sim.test/1", "http://s.sim.test/2")], actor=SYSTEM)
    assert result.reference
    assert public_status(result.reference) == "received"
    Item.objects.filter(canonical_url="http://s.sim.test/1").update(status="assessed", verdict="baseline")
    assert public_status(result.reference) == "in_progress"
    Item.objects.update(status="assessed")
    assert public_status(result.reference) == "handled"
    assert public_status("HL-0000-0000-0000") is None


@pytest.mark.parametrize(("typed", "stored"), [
    ("hl-7qk2-m9xd-4tra", "HL-7QK2-M9XD-4TRA"),
    ("7qk2m9xd4tra", "HL-7QK2-M9XD-4TRA"),
    ("HL 0O0O IiLl 1111", "HL-0000-1111-1111"),
    ("HL-7QK2-M9XD-4TRU", "HL-7QK2-M9XD-4TRU"),  # U is not in the alphabet: left alone, unmatched
    ("HL-7QK2-M9XD", "HL-7QK2-M9XD"),  # too short: left alone
    ("  something else ", "SOMETHING ELSE"),
])
def test_it_normalizes_a_typed_reference(typed: str, stored: str) -> None:
    assert normalize_reference(typed) == stored


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_concurrent_batches_creating_the_same_items_both_succeed_and_count_every_report() -> None:
    import threading

    from django.db import connections, transaction

    from hotline.audit.services import _create_heads

    with transaction.atomic():
        _create_heads()
    shared = [f"http://shared-{i}.sim.test/page" for i in range(200)]
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def intake(n: int) -> None:
        try:
            own = [f"http://own-{n}-{i}.sim.test/" for i in range(50)]
            batch = [_one(url, source=Source.PARTNER) for url in [*reversed(shared), *own] if url]
            barrier.wait(timeout=30)
            receive_reports(batch, actor=SYSTEM)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=intake, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Item.objects.count() == 200 + 3 * 50
    assert set(Item.objects.filter(host__startswith="shared-").values_list("report_count", flat=True)) == {3}
    assert AuditEvent.objects.filter(action="item.created").count() == 350
    assert AuditEvent.objects.filter(action="item.report_added").count() == 400
    assert verify().ok
