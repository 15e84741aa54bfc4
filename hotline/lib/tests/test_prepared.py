"""Probes compiled once: the same answer as the queryset they are built from, with each call's own values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.db.models import Count, QuerySet
from django.test.utils import CaptureQueriesContext

from hotline.lib import prepared
from hotline.reports.models import Item
from hotline.tracing.models import TraceDue

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MakeItem = Callable[..., Item]


@pytest.fixture(autouse=True)
def _fresh() -> None:
    prepared._COMPILED.clear()  # each test compiles its own names
    prepared._OWNERS.clear()
    prepared._INSERTS.clear()


def _row(make_item: MakeItem, due_at: datetime) -> TraceDue:
    return TraceDue.objects.create(item=make_item(), due_at=due_at, created_at=NOW)


def test_it_answers_as_the_queryset_does_with_each_calls_value(make_item: MakeItem) -> None:
    _row(make_item, NOW)
    for now, expected in ((NOW - timedelta(microseconds=1), False), (NOW, True), (NOW + timedelta(days=400), True),
                          (NOW - timedelta(days=400), False)):
        assert TraceDue.objects.due(now).exists() is expected
        assert prepared.any_row("due", TraceDue.objects.due, now=now) is expected
    assert len(prepared._COMPILED) == 1  # compiled once, bound four times


def test_it_binds_a_value_used_twice_and_several_values(make_item: MakeItem) -> None:
    row = _row(make_item, NOW)

    def between(now: datetime, since: datetime) -> QuerySet[TraceDue]:
        return TraceDue.objects.filter(due_at__lte=now, due_at__gt=since) | TraceDue.objects.filter(due_at=now)

    hour = timedelta(hours=1)
    assert prepared.any_row("between", between, now=NOW, since=NOW - hour)
    assert not prepared.any_row("between", between, now=NOW - hour, since=NOW - 2 * hour)
    assert not prepared.any_row("between", between, now=NOW + hour, since=NOW)  # since is exclusive
    assert prepared.any_row("between", between, now=NOW + hour, since=NOW - timedelta(seconds=1))
    row.delete()
    assert not prepared.any_row("between", between, now=NOW, since=NOW - hour)


def test_it_runs_one_query_and_no_transaction_once_compiled(make_item: MakeItem) -> None:
    _row(make_item, NOW)
    prepared.any_row("due", TraceDue.objects.due, now=NOW)
    with CaptureQueriesContext(connection) as context:
        assert prepared.any_row("due", TraceDue.objects.due, now=NOW)
    assert len(context.captured_queries) == 1
    assert context.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_it_refuses_a_value_that_does_not_reach_the_sql_unchanged() -> None:
    with pytest.raises(ValueError, match="'now' does not reach the SQL"):
        prepared.any_row("shifted", lambda now: TraceDue.objects.filter(due_at__lte=now - timedelta(minutes=5)),
                         now=NOW)


def test_it_keeps_one_query_per_vary(make_item: MakeItem) -> None:
    item = make_item()

    def hosts(host: str) -> Callable[[], QuerySet[Item]]:
        return lambda: Item.objects.filter(host=host)

    assert prepared.any_row("host", hosts(item.host), vary=item.host)
    assert not prepared.any_row("host", hosts("elsewhere.example"), vary="elsewhere.example")
    assert len(prepared._COMPILED) == 2


def test_rows_answers_as_the_values_list_does_with_each_calls_id(make_item: MakeItem) -> None:
    first, second = make_item(), make_item()
    TraceDue.objects.create(item=first, due_at=NOW, created_at=NOW)

    def due_of(item: int, now: datetime) -> QuerySet[TraceDue, tuple[int, int]]:
        return TraceDue.objects.filter(item=item, due_at__lte=now).values_list("item_id", "pk").order_by("pk")

    second_before = NOW - timedelta(seconds=1)
    for item, now in ((first, NOW), (first, second_before), (second, NOW), (first, NOW + timedelta(days=9))):
        assert prepared.rows("due_of", due_of, item=item.pk, now=now) == list(due_of(item.pk, now))
    assert prepared.rows("due_of", due_of, item=first.pk, now=NOW)  # not vacuous
    assert len(prepared._COMPILED) == 1
    with CaptureQueriesContext(connection) as context:
        prepared.rows("due_of", due_of, item=second.pk, now=NOW)
    assert len(context.captured_queries) == 1


def test_rows_refuses_an_id_that_does_not_reach_the_sql_unchanged() -> None:
    with pytest.raises(ValueError, match="'item' does not reach the SQL"):
        prepared.rows("shifted", lambda item: Item.objects.filter(pk=item + 1).values_list("pk"), item=3)


def test_rows_binds_a_list_element_by_element_and_keeps_one_query_per_length(make_item: MakeItem) -> None:
    items = [make_item() for _ in range(4)]
    for item in items[:3]:
        TraceDue.objects.create(item=item, due_at=NOW, created_at=NOW)

    def due_of(items: list[int], now: datetime) -> QuerySet[TraceDue, tuple[int, int]]:
        return TraceDue.objects.filter(item__in=items, due_at__lte=now).values_list("item_id", "pk").order_by("pk")

    ids = [item.pk for item in items]
    for chosen in (ids[:2], ids[1:3], ids[2:], ids[:1], ids[3:], ids):
        assert prepared.rows("due_of_many", due_of, items=chosen, now=NOW) == list(due_of(chosen, NOW))
    assert len(prepared.rows("due_of_many", due_of, items=ids[1:3], now=NOW)) == 2  # not vacuous
    assert sorted(length for *_, ((_, length),) in prepared._COMPILED) == [1, 2, 4]  # one query per length
    with pytest.raises(ValueError, match=r"'items\[1\]' does not reach the SQL"):
        prepared.rows("shifted_many", lambda items: Item.objects.filter(pk__in=[items[0], items[1] + 1])
                      .values_list("pk"), items=[3, 4])


def _pushed(*, row: int, now: datetime, outcome: str) -> tuple[QuerySet[TraceDue], dict[str, object]]:
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce, Greatest

    return TraceDue.objects.filter(pk=row), {"due_at": Greatest(Coalesce("due_at", Value(now)), now),
                                             "attempts": F("attempts") + 1, "last_outcome": outcome}


def test_an_update_writes_what_the_querysets_update_writes_with_each_calls_values(make_item: MakeItem) -> None:
    later = NOW + timedelta(hours=2, microseconds=5)
    for now, outcome in ((later, "servfail"), (NOW - timedelta(hours=1), ""), (NOW, "nxdomain")):
        by_orm, compiled = _row(make_item, NOW), _row(make_item, NOW)
        query, changes = _pushed(row=by_orm.pk, now=now, outcome=outcome)
        assert query.update(**changes) == 1
        assert prepared.update("pushed", _pushed, row=compiled.pk, now=now, outcome=outcome) == 1
        by_orm.refresh_from_db()
        compiled.refresh_from_db()
        assert (compiled.due_at, compiled.attempts, compiled.last_outcome) == \
            (by_orm.due_at, by_orm.attempts, by_orm.last_outcome) == (max(now, NOW), 1, outcome)
    assert prepared.update("pushed", _pushed, row=-1, now=NOW, outcome="") == 0  # rows changed: none
    assert len(prepared._COMPILED) == 1
    with CaptureQueriesContext(connection) as context:
        prepared.update("pushed", _pushed, row=compiled.pk, now=NOW, outcome="ok")
    assert len(context.captured_queries) == 1


def test_an_update_refuses_a_value_that_does_not_reach_the_sql(make_item: MakeItem) -> None:
    def shifted(*, now: datetime) -> tuple[QuerySet[TraceDue], dict[str, object]]:
        return TraceDue.objects.all(), {"due_at": now + timedelta(minutes=1)}

    with pytest.raises(ValueError, match="does not reach the SQL"):
        prepared.update("shifted", shifted, now=NOW)


def test_a_second_builder_under_a_name_already_taken_is_refused(make_item: MakeItem) -> None:
    """Names are global: two call sites choosing the same one would otherwise share the first one's SQL."""
    item = make_item()

    def by_pk(item: int) -> QuerySet[Item, tuple[int]]:
        return Item.objects.filter(pk=item).values_list("pk")

    def by_pk_again(item: int) -> QuerySet[Item, tuple[int]]:  # the same query, another place: still a clash
        return Item.objects.filter(pk=item).values_list("pk")

    def others(item: int) -> QuerySet[Item, tuple[int]]:
        return Item.objects.exclude(pk=item).values_list("pk")

    assert prepared.rows("one_item", by_pk, item=item.pk) == [(item.pk,)]
    assert prepared.rows("one_item", lambda item: by_pk(item), item=item.pk) == [(item.pk,)]  # compiled: not asked
    clash = r"'one_item' is built by .*test_prepared\.py:\d+ and by .*test_prepared\.py:\d+"
    with pytest.raises(ValueError, match=clash):
        prepared.rows("one_item", others, item=item.pk, vary="another key, so it compiles")
    with pytest.raises(ValueError, match="'one_item' is built by"):
        prepared.rows("one_item", by_pk_again, vary=2, item=item.pk)
    assert prepared.rows("one_item", by_pk, vary=3, item=item.pk) == [(item.pk,)]  # its own builder, a new key
    assert prepared.rows("other_items", others, item=item.pk) == []


def test_padded_rounds_a_list_up_to_a_power_of_two_and_selects_the_same_rows(make_item: MakeItem) -> None:
    assert prepared.padded([5]) == [5]
    assert prepared.padded([5, 3, 5, 9]) == [5, 3, 9, 9]  # a repeated id dropped, then the last one repeated
    assert [len(prepared.padded(list(range(n)))) for n in (1, 2, 3, 4, 5, 8, 9, 500)] == [1, 2, 4, 4, 8, 8, 16, 512]
    with pytest.raises(ValueError, match="empty"):
        prepared.padded([])
    assert prepared.to_power_of_two([(1, "a"), (1, "a"), (2, "b")]) == [(1, "a"), (1, "a"), (2, "b"), (2, "b")]
    assert prepared.to_power_of_two(["x"]) == ["x"]  # duplicates kept, only lengthened
    items = [make_item() for _ in range(6)]

    def chosen(ids: list[int]) -> QuerySet[Item, int]:
        return Item.objects.filter(pk__in=ids).values_list("pk", flat=True).order_by("pk")

    ids = [item.pk for item in items]
    for n in range(1, 7):
        assert [pk for (pk,) in prepared.rows("chosen", chosen, ids=prepared.padded(ids[:n]))] == ids[:n]
    assert sorted(length for *_, ((_, length),) in prepared._COMPILED) == [1, 2, 4, 8]  # not six queries


def test_it_binds_a_count_compared_with_a_small_positive_column(make_item: MakeItem) -> None:
    """An integer whose first sentinel lies outside a small positive column's range (the lookup would match
    nothing) is compiled again with small sentinels, checked twice, and bound like any other value."""
    rows = [_row(make_item, NOW) for _ in range(3)]
    TraceDue.objects.filter(pk=rows[2].pk).update(attempts=5)

    def tried(attempts: int) -> QuerySet[TraceDue, tuple[int]]:
        return TraceDue.objects.filter(attempts=attempts).order_by("pk").values_list("pk")

    assert prepared.rows("tried", tried, attempts=0) == [(rows[0].pk,), (rows[1].pk,)]
    assert prepared.rows("tried", tried, attempts=5) == [(rows[2].pk,)]
    assert prepared.rows("tried", tried, attempts=30_011) == []  # the sentinel's own value: a value like any other
    assert len(prepared._COMPILED) == 1


def _fields(instance: Any) -> dict[str, Any]:
    return {key: value for key, value in vars(instance).items() if key != "_state"}


def test_instances_are_those_the_orm_builds_with_their_related_rows(make_item: MakeItem) -> None:
    """Each column converted as the ORM converts it (moments aware, JSON decoded), the ``select_related`` rows
    set on each instance, with each call's ids; the SQL kept per number of ids."""
    rows = [_row(make_item, NOW - timedelta(minutes=n)) for n in range(3)]

    def due(ids: list[int]) -> QuerySet[TraceDue]:
        return TraceDue.objects.filter(pk__in=ids).select_related("item").order_by("-due_at")

    for ids in ([rows[0].pk, rows[2].pk], [rows[1].pk, rows[0].pk], [rows[2].pk]):
        made = prepared.instances("due", due, ids=ids)
        expected = list(due(ids))
        assert [_fields(m) for m in made] == [_fields(e) for e in expected] and made
        assert [_fields(m.item) for m in made] == [_fields(e.item) for e in expected]
        with CaptureQueriesContext(connection) as context:
            assert [m.item.pk for m in made] == [m.item_id for m in made]  # set, not read again
        assert context.captured_queries == []
    assert len(prepared._COMPILED) == 2  # two ids, one id


def test_instances_refuses_annotations() -> None:
    with pytest.raises(ValueError, match="annotate"):
        prepared.instances("annotated", lambda since: TraceDue.objects.filter(due_at__gte=since)
                           .annotate(n=Count("pk")), since=NOW)


def test_objects_are_those_the_orm_builds_with_annotations_as_attributes(make_item: MakeItem) -> None:
    """``objects``: the ORM's instances (moments aware, deferred fields deferred), each ``annotate`` column an
    attribute converted as the ORM converts it, with each call's values."""
    from django.db.models import F

    rows = [_row(make_item, NOW - timedelta(minutes=n)) for n in range(3)]

    def due(since: datetime) -> QuerySet[TraceDue]:
        return (TraceDue.objects.filter(due_at__gte=since).annotate(item_url=F("item__canonical_url"))
                .only("pk", "due_at", "attempts").order_by("due_at", "pk"))

    for since in (NOW - timedelta(minutes=1), NOW - timedelta(hours=1), NOW + timedelta(seconds=1)):
        made, expected = prepared.objects("due_urls", due, since=since), list(due(since))
        assert [_fields(m) for m in made] == [_fields(e) for e in expected]
        assert [(m.pk, m.due_at, vars(m)["item_url"]) for m in made] == \
            [(e.pk, e.due_at, vars(e)["item_url"]) for e in expected]
        assert all(m.get_deferred_fields() == e.get_deferred_fields() == {"item_id", "created_at", "last_outcome"}
                   for m, e in zip(made, expected, strict=True))
    assert [m.pk for m in prepared.objects("due_urls", due, since=NOW - timedelta(hours=1))] == \
        [r.pk for r in reversed(rows)]
    assert len(prepared._COMPILED) == 1
    with pytest.raises(ValueError, match="model instances"):
        prepared.objects("values", lambda since: TraceDue.objects.filter(due_at__gte=since).values("pk"), since=NOW)


def test_compiled_queries_skip_djangos_cursor_unless_queries_are_watched(
        make_item: MakeItem, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once compiled, each call is one plain query on the connection's own cursor (``plainsql``): no Django
    cursor made. Whenever queries are watched each is seen, once."""
    row = _row(make_item, NOW)

    def calls() -> list[object]:
        return [prepared.any_row("due", TraceDue.objects.due, now=NOW),
                prepared.rows("due_ids", lambda now: TraceDue.objects.due(now).values_list("pk"), now=NOW),
                [o.pk for o in prepared.objects("due_rows", TraceDue.objects.due, now=NOW)],
                [o.item.pk for o in prepared.instances("due_items", lambda now: TraceDue.objects.due(now)
                                                       .select_related("item"), now=NOW)],
                prepared.update("touched", lambda row, now: (TraceDue.objects.filter(pk=row), {"due_at": now}),
                                row=row.pk, now=NOW)]

    expected = [True, [(row.pk,)], [row.pk], [row.item_id], 1]
    with CaptureQueriesContext(connection) as context:
        assert calls() == expected
    assert len(context.captured_queries) == 5
    connection.ensure_connection()

    def no_cursor(*args: object) -> None:
        raise AssertionError("went through Django's cursor")

    monkeypatch.setattr(connection, "cursor", no_cursor)
    assert calls() == expected


def test_get_is_the_one_row_or_the_models_does_not_exist(make_item: MakeItem) -> None:
    """``get``: the instance ``QuerySet.get`` gives for an id, compiled once; none raises the model's own
    ``DoesNotExist``, as ``get`` does."""
    rows = [_row(make_item, NOW + timedelta(minutes=n)) for n in range(2)]

    def by_id(row: int) -> QuerySet[TraceDue]:
        return TraceDue.objects.filter(pk=row)

    for row in rows:
        assert _fields(prepared.get("due_by_id", by_id, row=row.pk)) == _fields(TraceDue.objects.get(pk=row.pk))
    with pytest.raises(TraceDue.DoesNotExist, match="TraceDue matching query does not exist"):
        prepared.get("due_by_id", by_id, row=-1)
    assert len(prepared._COMPILED) == 1


def test_insert_writes_the_rows_the_orm_writes_and_sets_their_ids(make_item: MakeItem) -> None:
    """A wide row (JSON, an address, encrypted text, moments) and a row with ``auto_now_add``: read back, the
    rows inserted with the compiled INSERT equal the ones ``create`` writes; several rows take one statement."""
    from hotline.evidence.models import Blob, Capture

    item = make_item()
    fields = {"item": item, "started_at": NOW, "finished_at": NOW + timedelta(seconds=2), "outcome": "captured",
              "requested_url": "https://a.example/x", "final_url": "https://a.example/y", "http_status": 200,
              "peer_ip": "192.0.2.7", "page_mime": "text/html", "redirects": [["https://a.example/x", 301]],
              "media_found": 3, "page_title": "a title", "page_text": "some text", "screenshot_due_at": NOW}
    by_orm = Capture.objects.create(**fields)
    compiled = Capture(**fields)
    prepared.insert([compiled])
    assert compiled.pk is not None and compiled.pk != by_orm.pk and not compiled._state.adding

    def columns(pk: int) -> dict[str, Any]:
        row = Capture.objects.get(pk=pk)
        return {f.attname: getattr(row, f.attname) for f in Capture._meta.concrete_fields if f.attname != "id"}

    assert columns(compiled.pk) == columns(by_orm.pk)
    blobs = [Blob(sha256=f"{n:064x}", size=n, storage_name=f"name{n}", key_id="k", wrapped_key="w") for n in range(3)]
    with CaptureQueriesContext(connection) as context:
        prepared.insert(blobs)
    assert len(context.captured_queries) == 1
    stored = {b.pk: b for b in Blob.objects.filter(pk__in=[b.pk for b in blobs])}
    assert [(stored[b.pk].sha256, stored[b.pk].size) for b in blobs] == [(f"{n:064x}", n) for n in range(3)]
    assert all(stored[b.pk].created_at is not None for b in blobs)
    prepared.insert([Blob(sha256=f"{n:064x}", size=n, storage_name=f"n{n}", key_id="k", wrapped_key="w")
                     for n in range(3, 6)])
    assert len(prepared._INSERTS) == 2  # per model and number of rows: Capture x1, Blob x3


def test_insert_refuses_a_saved_instance_and_mixed_models(make_item: MakeItem) -> None:
    from hotline.evidence.models import Blob

    saved = Blob.objects.create(sha256="a" * 64, size=1, storage_name="s", key_id="k", wrapped_key="w")
    with pytest.raises(ValueError, match="unsaved"):
        prepared.insert([saved])
    with pytest.raises(ValueError, match="one model"):
        prepared.insert([Blob(sha256="b" * 64, size=1, storage_name="t", key_id="k", wrapped_key="w"), make_item()])
    prepared.insert([])  # nothing to write: no query


def test_insert_splits_a_batch_the_database_could_not_take_in_one_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.evidence.models import Blob

    monkeypatch.setattr(connection.ops, "bulk_batch_size", lambda fields, objs: 150)
    blobs = [Blob(sha256=f"{n:064x}", size=n, storage_name=f"s{n}", key_id="k", wrapped_key="w") for n in range(400)]
    with CaptureQueriesContext(connection) as context:
        prepared.insert(blobs)
    assert len(context.captured_queries) == 3  # 150 + 150 + 100 rows
    assert sorted(Blob.objects.values_list("size", flat=True)) == list(range(400))
    assert len({b.pk for b in blobs}) == 400


def test_insert_ignoring_conflicts_leaves_out_a_row_that_breaks_a_unique_constraint() -> None:
    """As ``bulk_create(..., ignore_conflicts=True)``: the row whose unique key is taken is left out (the stored
    row as it was), the others written in the same statement; no instance gets a primary key."""
    from hotline.evidence.models import Blob

    taken = Blob.objects.create(sha256="c" * 64, size=7, storage_name="first", key_id="k", wrapped_key="w")
    blobs = [Blob(sha256=sha, size=n, storage_name=f"second{n}", key_id="k", wrapped_key="w")
             for n, sha in enumerate(["c" * 64, "d" * 64, "e" * 64])]
    with CaptureQueriesContext(connection) as context:
        prepared.insert(blobs, ignore_conflicts=True)
    assert len(context.captured_queries) == 1
    assert all(b.pk is None and not b._state.adding for b in blobs)
    stored = dict(Blob.objects.values_list("sha256", "storage_name"))
    assert stored == {"c" * 64: "first", "d" * 64: "second1", "e" * 64: "second2"}
    assert Blob.objects.get(sha256="c" * 64).pk == taken.pk
    with pytest.raises(IntegrityError):  # the same row without the option: the constraint holds
        prepared.insert([Blob(sha256="d" * 64, size=1, storage_name="third", key_id="k", wrapped_key="w")])


def test_any_rows_answers_each_query_as_its_exists_does_in_one_query(make_item: MakeItem) -> None:
    _row(make_item, NOW)

    def probes(now: datetime) -> list[QuerySet[TraceDue]]:
        return [TraceDue.objects.due(now), TraceDue.objects.filter(due_at__gt=now), TraceDue.objects.due(now)]

    for now in (NOW - timedelta(seconds=1), NOW, NOW + timedelta(days=1)):
        expected = tuple(query.exists() for query in probes(now))
        with CaptureQueriesContext(connection) as context:
            assert prepared.any_rows("probes", probes, now=now) == expected
        assert len(context.captured_queries) == 1
    assert prepared.any_rows("probes", probes, now=NOW) == (True, False, True)
    assert prepared.any_rows("probes", probes, now=NOW - timedelta(seconds=1)) == (False, True, False)
    assert len(prepared._COMPILED) == 1  # compiled once, bound each call
