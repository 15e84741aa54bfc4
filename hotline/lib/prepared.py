"""Queries compiled once per process, run with fresh values: the cheap "is anything due?" of idle polls.

A worker step runs every few seconds and usually finds nothing to do. Django builds and compiles a query
on every call (``filter``, ``as_sql``): one to three milliseconds for a due-query with a subquery, some
twenty times what the database takes to answer it when nothing is due. :func:`any_row` compiles the
step's own due-query once per process and database, with a sentinel in place of each named value
(``now``), and afterwards only binds the values and runs the SQL: the answer is the query's, its cost a
plain ``cursor.execute``.

:func:`rows` does the same for a hot read that returns rows (the files of the item an analyst decides on,
say): the ``values_list`` query built once per process with a sentinel for each value (a moment or an
integer id), then bound and run; its columns as the database returns them, so only for columns that need no
conversion (text, integers).

The query is the one the step claims from, built by the same function, so the probe never says "nothing"
when the claim would find a row. A row the probe saw may be gone (or locked) by the time the step claims:
the step then claims nothing, as it would have. The probe reads outside any transaction and writes
nothing.

:func:`objects` returns model instances (``Model.objects.raw`` over the SQL compiled once: each field
converted as the ORM converts it, extra selected columns set as attributes): a claim's read of the first due
row, say, locked with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (compiled, and run, inside the
claim's transaction). :func:`update` runs ``queryset.update(...)`` compiled once: a hot write whose
expressions cost more to build than to run. :func:`insert` writes new rows with an ``INSERT … RETURNING`` kept per
model and number of rows: a wide row written on a hot path (a capture's).

A value may be a list (ids for ``IN (…)``, a column per row of a ``CASE``): ``build`` gets a list of as many
sentinels, each element is bound on its own, and the SQL is kept per length of each list. A list that only
feeds ``IN (…)`` (or an OR of conditions, one per element) can be passed through :func:`padded`: its length
rounded up to a power of two by repeating its last element, so a read of any number of ids compiles a
handful of queries, not one per length.

``build`` must depend on nothing but the named values and ``vary`` (a setting it reads, say): the SQL is
kept under ``name`` and ``vary`` for the life of the process. Each value must reach the SQL as a parameter
unchanged (compared with a field, not shifted by a ``timedelta`` first); a value that does not is refused
when the query is first compiled. A name belongs to one ``build`` (where it is defined): a second one under the
same name is refused when it first compiles, instead of running the first one's SQL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import QuerySet
from django.db.models.constants import OnConflict
from django.db.models.query import ModelIterable, get_related_populators  # type: ignore[attr-defined]
from django.db.models.sql import UpdateQuery

from hotline.lib import plainsql

__all__ = ["any_row", "any_rows", "get", "insert", "instances", "objects", "padded", "rows", "to_power_of_two",
           "update"]

T = TypeVar("T")

# A moment no real value takes: each named value gets its own microsecond after it. Likewise an integer.
_SENTINEL = datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC)
_INT_SENTINEL = -7_301_900_000_000_000
_STR_SENTINEL = "\x1fprepared-sentinel-{}\x1f"
Value = datetime | int | str
# A value, or a list of values (ids in ``IN (…)``, a column per row of a ``CASE``): each element bound on its own.
# A list's length shapes the SQL, so it is part of the key the SQL is kept under.
Values = Value | Sequence[Value]  # a list or tuple (a string is one value)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    # (parameter index, value name, position in a list value or -1, adapted for the database)
    slots: tuple[tuple[int, str, int, bool], ...]
    model: Any = None  # the queryset's model (``objects``), or how its rows become instances (``instances``)

    def bind(self, values: dict[str, Values]) -> list[Any]:
        params = list(self.params)
        ops = None
        for index, name, position, adapted in self.slots:
            given = values[name]
            value = given[position] if isinstance(given, list | tuple) else given
            if adapted and isinstance(value, datetime):
                ops = ops or connections[DEFAULT_DB_ALIAS].ops
                params[index] = ops.adapt_datetimefield_value(value)
            else:
                params[index] = value
        return params


# (database alias, vendor, name, vary, lengths of the list values) -> the compiled query
_COMPILED: dict[tuple[str, str, str, Hashable, tuple[tuple[str, int], ...]], _Compiled] = {}


# name -> where the ``build`` compiled under it is defined: one name, one builder (see _compiled_sql)
_OWNERS: dict[str, str] = {}


def _compiled(name: str, vary: Hashable, queryset: Callable[[dict[str, Values]], QuerySet[Any]],
              values: dict[str, Values], build: Callable[..., Any] | None = None) -> _Compiled:
    def build_sql(given: dict[str, Values]) -> tuple[str, Any, Any]:
        built = queryset(given)
        return (*built.query.get_compiler(using=connection.alias).as_sql(), built.model)

    return _compiled_sql(name, vary, build_sql, values, build)


def _compiled_sql(name: str, vary: Hashable, sql: Callable[[dict[str, Values]], tuple[str, Any, Any]],
                  values: dict[str, Values], build: Callable[..., Any] | None = None) -> _Compiled:
    lengths = (tuple(sorted((key, len(value)) for key, value in values.items() if isinstance(value, list | tuple)))
               if any(isinstance(value, list | tuple) for value in values.values()) else ())
    db = connections[DEFAULT_DB_ALIAS]  # the proxy ``connection`` looks it up again on every attribute
    key = (db.alias, db.vendor, name, vary, lengths)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _compile(name, sql, values)
        # The SQL is kept under its name: a second builder under the same name would run the first one's SQL.
        # Checked once per compiled query, never on the hot path.
        origin, owner = (_origin(build) if build is not None else None), _OWNERS.get(name)
        if owner is not None and origin is not None and owner != origin:
            raise ValueError(f"prepared query {name!r} is built by {origin} and by {owner}: give each its own name")
        if origin is not None:
            _OWNERS.setdefault(name, origin)
        _COMPILED[key] = compiled
    return compiled


def _origin(build: Callable[..., Any]) -> str | None:
    """Where ``build`` is defined (file and line of its code): a function, a lambda, a bound method, a partial."""
    while isinstance(build, functools.partial):
        build = build.func
    code = getattr(build, "__code__", None) or getattr(getattr(build, "__func__", None), "__code__", None)
    return None if code is None else f"{code.co_filename}:{code.co_firstlineno}"


def _sentinel(value: Value, n: int, small: int = 0) -> Value:
    if isinstance(value, datetime):
        return _SENTINEL + timedelta(microseconds=n + 1)
    if isinstance(value, str):
        return _STR_SENTINEL.format(n)
    if small:  # within a small positive integer column's range (a count compared as read)
        return small + 7 * n
    return _INT_SENTINEL - n


def _compile(name: str, build_sql: Callable[[dict[str, Values]], tuple[str, Any, Any]],
             values: dict[str, Values]) -> _Compiled:
    """``build_sql`` gives (SQL, parameters, model or None) for the values given. An integer whose sentinel
    does not reach the SQL (a lookup on a small positive column refuses a value outside its range) is tried
    again with small positive sentinels, with two sets of them: a parameter is a slot only where it follows
    the sentinel in both, so a constant that happens to equal one is never mistaken for it."""
    try:
        return _compile_with(name, build_sql, values, small=0)
    except (ValueError, EmptyResultSet):  # EmptyResultSet: a lookup outside the column's range matches nothing
        if not any(isinstance(v, int) for given in values.values()
                   for v in (given if isinstance(given, list | tuple) else [given])):
            raise
    first = _compile_with(name, build_sql, values, small=_SMALL_SENTINEL)
    second = _compile_with(name, build_sql, values, small=_SMALL_SENTINEL + 3)
    if first.slots != second.slots or first.sql != second.sql:
        raise ValueError(f"prepared query {name!r}: an integer value does not reach the SQL as a parameter")
    return first


_SMALL_SENTINEL = 30_011  # ... + 7 n: below 32767, the smallest positive column's top


def _compile_with(name: str, build_sql: Callable[[dict[str, Values]], tuple[str, Any, Any]],
                  values: dict[str, Values], *, small: int) -> _Compiled:
    sentinels: dict[str, Values] = {}
    placed: list[tuple[str, int, Value]] = []  # (name, position in a list or -1, sentinel)
    for key in sorted(values):
        given = values[key]
        if isinstance(given, list | tuple):
            elements = [_sentinel(element, len(placed) + n, small) for n, element in enumerate(given)]
            placed += [(key, n, sentinel) for n, sentinel in enumerate(elements)]
            sentinels[key] = elements
        else:
            single = _sentinel(cast(Value, given), len(placed), small)
            placed.append((key, -1, single))
            sentinels[key] = single
    sql, params, model = build_sql(sentinels)
    slots: list[tuple[int, str, int, bool]] = []
    for key, position, sentinel in placed:
        is_moment = isinstance(sentinel, datetime)
        adapted = connection.ops.adapt_datetimefield_value(sentinel) if isinstance(sentinel, datetime) else sentinel
        # A parameter is the value as given (PostgreSQL) or as the backend adapts it (SQLite: a string).
        found = [(i, key, position, is_moment and not isinstance(param, datetime)) for i, param in enumerate(params)
                 if param in (sentinel, adapted) and type(param) is not bool]
        if not found:
            where = key if position < 0 else f"{key}[{position}]"
            raise ValueError(f"prepared query {name!r}: the value {where!r} does not reach the SQL as a parameter")
        slots += found
    return _Compiled(sql, tuple(params), tuple(sorted(slots)), model)


def any_row(name: str, build: Callable[..., QuerySet[Any]], vary: Hashable = (), **values: Values) -> bool:
    """Whether ``build(**values)`` names any row, asked with SQL compiled once per process (see the module).
    ``vary``: what else the query depends on (a setting's value), part of the key the SQL is kept under."""
    compiled = _compiled(name, vary, lambda given: build(**given).order_by().values("pk")[:1], dict(values), build)
    return bool(plainsql.fetch_all(compiled.sql, compiled.bind(values)))


def any_rows(name: str, build: Callable[..., Sequence[QuerySet[Any]]], vary: Hashable = (),
             **values: Values) -> tuple[bool, ...]:
    """For each query of ``build(**values)`` (a list of querysets), whether it names any row: :func:`any_row` for
    several queries at once, asked as one SELECT of one EXISTS per query (one round trip), compiled once."""

    def sql(given: dict[str, Values]) -> tuple[str, list[Any], None]:
        parts, params = [], []
        for query in build(**given):
            text, part = query.order_by().values("pk")[:1].query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql()
            parts.append(f"EXISTS ({text})")
            params += part
        return "SELECT " + ", ".join(parts), params, None

    compiled = _compiled_sql(name, vary, sql, dict(values), build)
    return tuple(bool(found) for found in plainsql.fetch_all(compiled.sql, compiled.bind(values))[0])


def rows(name: str, build: Callable[..., QuerySet[Any]], vary: Hashable = (),
         **values: Values) -> list[tuple[Any, ...]]:
    """The rows of ``build(**values)``, a ``values_list`` query, with SQL compiled once per process (see the
    module): each row a tuple of its columns as the database returns them (no field's conversion: for text
    and integer columns). ``values``: moments or integers (an id), each reaching the SQL unchanged."""
    compiled = _compiled(name, vary, lambda given: build(**given), dict(values), build)
    return plainsql.fetch_all(compiled.sql, compiled.bind(values))


def objects(name: str, build: Callable[..., QuerySet[Any]], vary: Hashable = (), **values: Values) -> list[Any]:
    """The model instances of ``build(**values)`` (a queryset of one model; a column ``annotate`` adds becomes an
    attribute), with SQL compiled once per process (see the module), made instances as the ORM makes them
    (``ModelIterable``): each column converted as the ORM converts it, ``select_related`` followed. A query that
    locks rows (``select_for_update``) is compiled and run inside a transaction."""
    return _made(name, build, vary, values, annotations=True)


def instances(name: str, build: Callable[..., QuerySet[Any]], vary: Hashable = (), **values: Values) -> list[Any]:
    """The model instances of ``build(**values)`` as the ORM builds them, ``select_related`` followed (the related
    rows' instances set on each), with SQL compiled once per process (see the module): for a hot read of rows
    and the rows they point to, whose query costs more to build than to run. Each column converted as the ORM
    converts it; no ``annotate`` columns, no ``prefetch_related``."""
    return _made(name, build, vary, values, annotations=False)


def get(name: str, build: Callable[..., QuerySet[Any]], vary: Hashable = (), **values: Values) -> Any:
    """The one instance of ``build(**values)`` (as :func:`instances` makes it), or the model's ``DoesNotExist``
    when there is none, as ``QuerySet.get`` raises it: for a hot read of one row by its id."""
    found = instances(name, build, vary, **values)
    if not found:
        model = build(**values).model
        raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
    return found[0]


def _made(name: str, build: Callable[..., QuerySet[Any]], vary: Hashable, values: dict[str, Values], *,
          annotations: bool) -> list[Any]:
    def build_sql(given: dict[str, Values]) -> tuple[str, Any, Any]:
        queryset = build(**given)
        if (queryset.query.annotation_select and not annotations) or vars(queryset).get("_prefetch_related_lookups"):
            raise ValueError(f"prepared query {name!r}: instances() takes no annotate or prefetch_related")
        if queryset._fields is not None or queryset._iterable_class is not ModelIterable:  # type: ignore[attr-defined]
            raise ValueError(f"prepared query {name!r}: a queryset of model instances (no values(), values_list())")
        compiler = queryset.query.get_compiler(using=connection.alias)
        sql, params = compiler.as_sql()  # fills compiler.select and klass_info, as running the query would
        return sql, params, _Instances(compiler)

    compiled = _compiled_sql(name, vary, build_sql, values, build)
    return cast(_Instances, compiled.model).make(plainsql.fetch_all(compiled.sql, compiled.bind(values)))


class _Instances:
    """Rows of a compiled query made model instances as ``ModelIterable`` makes them: the related rows of a
    ``select_related`` set on each, ``annotate``'s columns as attributes."""

    def __init__(self, compiler: Any) -> None:
        self.compiler = compiler
        klass_info, select = compiler.klass_info, compiler.select
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.names = [column[0].target.attname for column in select[self.start:self.end]]
        self.related = get_related_populators(klass_info, select, connection.alias)
        self.annotations = list(compiler.annotation_col_map.items())
        self.alias = connection.alias
        # each column's conversions, found once (``results_iter`` finds them for every query)
        self.converters = compiler.get_converters([column[0] for column in select[:compiler.col_count]])

    def make(self, found: list[tuple[Any, ...]]) -> list[Any]:
        made = []
        rows = self.compiler.apply_converters(found, self.converters) if self.converters else found
        model, alias, names, start, end, related, annotations = (
            self.model, self.alias, self.names, self.start, self.end, self.related, self.annotations)
        for row in rows:
            instance = model.from_db(alias, names, row[start:end])
            for populator in related:
                populator.populate(row, instance)
            for attribute, position in annotations:
                setattr(instance, attribute, row[position])
            made.append(instance)
        return made


def update(name: str, build: Callable[..., tuple[QuerySet[Any], dict[str, Any]]], vary: Hashable = (),
           **values: Values) -> int:
    """``queryset.update(**changes)`` where ``build(**values)`` returns ``(queryset, changes)``, with the
    UPDATE compiled once per process (see the module): for a write a hot path makes with new values each time,
    whose expressions (``Case``, ``Coalesce``) cost more to build and compile than to run. ``vary``: whatever
    else shapes the SQL (which optional columns are written; a list value's length is part of the key
    already). Returns the rows changed."""
    compiled = _compiled_sql(name, vary, lambda given: (*_update_sql(*build(**given)), None), dict(values), build)
    return plainsql.execute(compiled.sql, compiled.bind(values))


def _update_sql(queryset: QuerySet[Any], changes: dict[str, Any]) -> tuple[str, Any]:
    """The SQL ``queryset.update(**changes)`` runs (a plain update: no related model's columns)."""
    query: Any = queryset.query.chain(UpdateQuery)
    query.add_update_values(changes)
    query.clear_select_clause()
    compiler = query.get_compiler(using=connection.alias)
    compiled, params = compiler.as_sql()
    if query.related_updates or not compiled:
        raise ValueError("prepared update: only a plain UPDATE of the queryset's own table")
    return compiled, params


# (database alias, vendor, model, number of rows) -> the INSERT's SQL and the fields whose values it takes
_INSERTS: dict[tuple[str, str, str, int, bool], tuple[str, tuple[Any, ...]]] = {}


def insert(objs: Sequence[Any], *, ignore_conflicts: bool = False) -> None:
    """Insert the unsaved ``objs`` (instances of one model, its primary key an auto field) with one ``INSERT …
    RETURNING`` whose SQL is kept per model and number of rows: for a hot write of a wide row, which the ORM
    builds and compiles on every ``create``. Each column's value is what ``save`` and ``bulk_create`` write
    (``field.pre_save``, so ``auto_now_add`` applies, then ``get_db_prep_save``); each instance gets its primary
    key and is marked saved, as ``bulk_create`` leaves it. No signals are sent (as ``bulk_create``), so only
    for a model without ``pre_save``/``post_save`` receivers the caller relies on; no expressions as values,
    no parents (multi-table inheritance). ``ignore_conflicts``: as ``bulk_create(..., ignore_conflicts=True)``,
    a row that breaks a unique constraint is left out (``ON CONFLICT DO NOTHING`` / ``INSERT OR IGNORE``) and
    no instance gets its primary key."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    if any(type(obj) is not model or not obj._state.adding or obj.pk is not None for obj in objs):
        raise ValueError("prepared.insert: unsaved instances of one model only, without a primary key")
    db = connections[DEFAULT_DB_ALIAS]
    if len(objs) > 1 and len(objs) * len(meta.local_concrete_fields) > 999:  # as bulk_create splits a long batch
        size = max(1, db.ops.bulk_batch_size(meta.local_concrete_fields, objs))
        if size < len(objs):
            for start in range(0, len(objs), size):
                insert(objs[start:start + size], ignore_conflicts=ignore_conflicts)
            return
    key = (db.alias, db.vendor, meta.label, len(objs), ignore_conflicts)
    made = _INSERTS.get(key)
    if made is None:
        if meta.parents or meta.auto_field is None or meta.pk is not meta.auto_field:
            raise ValueError(f"prepared.insert: {meta.label} has parents or no auto primary key")
        fields = tuple(f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated)
        quote = db.ops.quote_name
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        table, columns = quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
        values = ", ".join([row] * len(objs))
        # names from the model's meta, quoted by the backend; every value a parameter
        if ignore_conflicts:
            head = db.ops.insert_statement(on_conflict=OnConflict.IGNORE)
            tail = db.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
            made = (f"{head} {table} ({columns}) VALUES {values} {tail}".strip(), fields)
        else:
            returning = f"RETURNING {table}.{quote(meta.pk.column)}"
            made = (f"INSERT INTO {table} ({columns}) VALUES {values} {returning}", fields)  # noqa: S608
        _INSERTS[key] = made
    sql, fields = made
    params = []
    for obj in objs:
        for field in fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                raise ValueError(f"prepared.insert: {meta.label}.{field.name} is an expression")
            params.append(field.get_db_prep_save(value, connection=db))
    if ignore_conflicts:
        plainsql.execute(sql, params)
        for obj in objs:
            obj._state.adding = False
            obj._state.db = db.alias
        return
    returned = plainsql.fetch_all(sql, params)
    if len(returned) != len(objs):
        raise RuntimeError(f"prepared.insert: {len(returned)} ids returned for {len(objs)} rows of {meta.label}")
    for obj, (pk,) in zip(objs, returned, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = db.alias


def padded(values: Sequence[Value]) -> list[Value]:
    """``values`` (not empty) lengthened to the next power of two by repeating the last one: the same answer
    for ``IN (…)`` (a repeated id selects nothing more), with one compiled query per power of two instead of
    one per length. Repeated values are dropped first (in their order)."""
    listed = list(dict.fromkeys(values))
    if not listed:
        raise ValueError("prepared.padded: an empty list has no element to repeat (an empty IN () selects nothing)")
    return to_power_of_two(listed)


def to_power_of_two(elements: Sequence[T]) -> list[T]:
    """``elements`` (not empty) lengthened to the next power of two by repeating the last one, duplicates kept:
    for lists whose repeated last element changes nothing (a ``WHEN`` repeated, an OR-ed condition repeated)."""
    listed = list(elements)
    return listed + listed[-1:] * ((1 << (len(listed) - 1).bit_length()) - len(listed))
