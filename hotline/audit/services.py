"""Writing and checking the audit chain. Every domain service calls ``record`` in its transaction."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from hotline.audit import anchor
from hotline.audit.models import _CANONICAL, GENESIS, AuditEvent, AuditHead, AuditSeal, chain_hash
from hotline.lib import plainsql
from hotline.lib.bulk import COPY_SPECIAL as _COPY_SPECIAL
from hotline.lib.bulk import copy_lines, copy_text, reserve_ids


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff user, an API client, or the system itself (workers)."""

    label: str
    user_id: int | None = None

    @classmethod
    def of_user(cls, user: Any) -> Actor:
        return cls(label=f"user:{user.get_username()}", user_id=user.pk)


SYSTEM = Actor(label="system")


@dataclass(frozen=True)
class Change:
    """One event to append: ``object`` is a model instance or a ``(type, id)`` pair."""

    action: str
    object: Model | tuple[str, object]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def object_ref(obj: Model | tuple[str, object]) -> tuple[str, str]:
    if isinstance(obj, tuple):
        return obj[0], str(obj[1])
    return obj._meta.label_lower, str(obj.pk)


def record(
    actor: Actor,
    action: str,
    obj: Model | tuple[str, object],
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the transaction of the change it describes."""
    return record_many(actor, [Change(action, obj, before, after)], now=now)[0]


def record_many(
    actor: Actor, changes: Iterable[Change], *, now: datetime | None = None
) -> list[AuditEvent]:
    """Append several events in order to one stream, in one locked step."""
    pending = list(changes)
    return _as_events(_append(actor, pending, now=now), pending)


def record_bulk(actor: Actor, changes: Iterable[Change], *, now: datetime | None = None) -> int:
    """Like ``record_many`` for thousands of events: returns only how many it wrote."""
    return len(_append(actor, changes, now=now))


# One event as record_encoded takes it: action, object type, object id, and before and after as
# canonical JSON text (``canonical_json``; "null" for none).
Encoded = tuple[str, str, str, str, str]


def record_encoded(actor: Actor, events: Sequence[Encoded], *, now: datetime | None = None) -> int:
    """``record_bulk`` for callers that write thousands of events of a few fixed shapes (batch intake)
    and hand each one as a plain tuple with its JSON already encoded: building a ``Change`` and
    encoding its dict cost more than hashing and writing the event. ``before`` and ``after`` must
    be exactly ``canonical_json`` of the value (what verify recomputes the hash from)."""
    return len(_append_encoded(actor, events, now=now))


def canonical_json(value: dict[str, Any] | None) -> str:
    """The JSON text an event's ``before`` or ``after`` is hashed as (sorted keys, no spaces, ASCII)."""
    return _encode(value)


_NULL = "\\N"  # COPY text for NULL
_COLUMNS = ("id", "seq", "stream", "position", "at", "actor_label", "actor_user_id", "action",
            "object_type", "object_id", "before", "after", "prev_hash", "hash")
# before and after as their canonical JSON text ("null" for None).
Row = tuple[int, int, int, int, datetime, str, int | None, str, str, str, str, str, str, str]


def _as_events(rows: list[Row], changes: list[Change] | None = None) -> list[AuditEvent]:
    """The written rows as saved events; ``before`` and ``after`` are the changes' own values (else
    parsed from the JSON written)."""
    given = changes or []
    alias = connection.alias
    events = []
    for n, row in enumerate(rows):
        if n < len(given):
            before, after = given[n].before, given[n].after
        else:
            before, after = json.loads(row[10]), json.loads(row[11])
        # from_db takes the values in the order of the model's fields (_COLUMNS): positional, half the keyword cost.
        events.append(AuditEvent.from_db(alias, _COLUMNS, (*row[:10], before, after, *row[12:])))
    return events


@dataclass
class _Head:
    """A stream head as read under its row lock (a plain row: appends are hot, the ORM costs more than the SQL)."""

    id: int
    position: int
    hash: str
    top: int | None = None  # SQLite: the largest event id or seq, read in the same statement


def _append(
    actor: Actor, changes: Iterable[Change], *, now: datetime | None = None, stream: int | None = None
) -> list[Row]:
    events: list[Encoded] = []
    for change in changes:
        object_type, object_id = object_ref(change.object)
        events.append((change.action, object_type, object_id, _encode(change.before), _encode(change.after)))
    return _append_encoded(actor, events, now=now, stream=stream)


def _append_encoded(
    actor: Actor, events: Sequence[Encoded], *, now: datetime | None = None, stream: int | None = None
) -> list[Row]:
    if not connection.in_atomic_block:
        raise RuntimeError("audit events must be written inside the transaction of the change")
    at = now or timezone.now()
    if not events:
        return []
    # 1. Lock one stream head: any stream no other transaction holds (so writers do not queue).
    # 2. Take global seq numbers after that lock, so seq increases along the stream.
    # 3. Hash each event onto the previous one of the stream, write them all, move the head.
    postgres = connection.vendor == "postgresql"
    claimed = _claim(len(events)) if postgres and stream is None else None
    if claimed is None:
        head = _locked_head(stream)
        claimed = head, _reserve_ids(len(events), head)
    head, ids = claimed
    position, prev = head.position, head.hash
    rows: list[Row] = []
    event_hash = _event_hasher(actor, at)
    label, user_id, stream_id = actor.label, actor.user_id, head.id
    for (action, object_type, object_id, before, after), seq in zip(events, ids, strict=True):
        position += 1
        digest = event_hash(prev, seq, action, object_type, object_id, before, after)
        # The JSON text hashed is also the text written (COPY) or parsed back (elsewhere).
        rows.append((seq, seq, stream_id, position, at, label, user_id, action, object_type, object_id, before,
                     after, prev, digest))
        prev = digest
    if postgres and len(rows) <= _INSERT_MAX:
        _insert_and_move(rows, head.id)
    else:
        _insert(rows)
        plainsql.execute(_MOVE_HEAD, [position, prev, head.id])
    return rows


_MOVE_HEAD = "UPDATE audit_audithead SET position = %s, hash = %s WHERE id = %s"
# PostgreSQL: a write of up to this many events is one statement that inserts them and moves the head; a larger one
# (batch intake's thousands) is streamed with COPY, cheaper per row, and the head moved by a second statement.
_INSERT_MAX = 1000

# PostgreSQL, one round trip: lock the first free stream head and take one id (= seq) per event. Order: the
# nextval() calls are in a subquery that reads the head row's position (a correlated SubPlan), so PostgreSQL
# evaluates them per row the head CTE returns, and the MATERIALIZED CTE returns a row only once its LockRows node
# has locked it. So the ids are taken after the lock (seq increases along the stream) and none at all when every
# head is locked (no row); tests/test_append.py checks both.
_CLAIM = (
    "WITH h AS MATERIALIZED (SELECT id, position, hash FROM audit_audithead WHERE id <= %s ORDER BY id LIMIT 1 "
    "FOR UPDATE SKIP LOCKED), "
    "s AS MATERIALIZED (SELECT pg_get_serial_sequence('audit_auditevent', 'id')::regclass AS seq) "
    "SELECT h.id, h.position, h.hash, "
    "ARRAY(SELECT nextval(s.seq) FROM s, generate_series(h.position + 1, h.position + %s)) FROM h"
)


def _claim(n: int) -> tuple[_Head, list[int]] | None:
    """PostgreSQL: a free stream head, locked, and ``n`` new ids; None when no head is free (or none exists)."""
    found = plainsql.fetch_all(_CLAIM, [_stream_count(), n])
    if not found:
        return None
    head_id, position, hash_, ids = found[0]
    return _Head(int(head_id), int(position), str(hash_)), sorted(ids)


def _insert_and_move(rows: list[Row], head_id: int) -> None:
    """PostgreSQL: insert ``rows`` (of one write: one stream, time and actor) and move the stream head to the last of
    them, in one statement. The rows go as one JSON parameter: the statement's text and parameters are the same
    whatever the number of rows (psycopg parses a statement with more than 50 parameters again on every call, and
    adapts each one on its own, ~1 µs each)."""
    first, last = rows[0], rows[-1]
    plainsql.execute(_INSERT_AND_MOVE, [first[2], first[4].isoformat(), first[5], first[6], _rows_json(rows),
                                        last[3], last[13], head_id])


_INSERT_AND_MOVE = (
    f"WITH e AS (INSERT INTO audit_auditevent ({', '.join(_COLUMNS)}) "  # noqa: S608 (no input)
    "SELECT r.id, r.id, %s, r.position, %s::timestamptz, %s, %s::bigint, r.action, r.object_type, r.object_id, "
    "r.before, r.after, r.prev_hash, r.hash FROM json_to_recordset(%s::json) AS r (id bigint, position bigint, "
    "action text, object_type text, object_id text, before jsonb, after jsonb, prev_hash text, hash text)) "
    f"{_MOVE_HEAD}"
)


def _rows_json(rows: list[Row]) -> str:
    """The per-event columns of ``rows`` as a JSON array of objects. ``before`` and ``after`` are the canonical JSON
    text hashed, written as they are (a JSON null is SQL NULL, as COPY writes it); the hashes are hexadecimal."""
    text = encode_basestring_ascii
    return "[" + ",".join([
        f'{{"id":{seq},"position":{position},"action":{text(action)},"object_type":{text(object_type)},'
        f'"object_id":{text(object_id)},"before":{before},"after":{after},"prev_hash":"{prev}","hash":"{digest}"}}'
        for seq, _, _, position, _, _, _, action, object_type, object_id, before, after, prev, digest in rows
    ]) + "]"


def _encode(value: dict[str, Any] | None) -> str:
    return "null" if value is None else _CANONICAL.encode(value)


def _event_hasher(actor: Actor, at: datetime) -> Callable[[str, int, str, str, str, str, str], str]:
    """``chain_hash`` of one event of ``actor`` at ``at``, from its fields with ``before`` and ``after``
    already encoded: the same canonical JSON (sorted keys, no spaces, ASCII) built by concatenation, so
    each event's JSON is encoded once, not once to hash and again to write."""
    encode = encode_basestring_ascii  # what the canonical encoder does with a string
    user = _CANONICAL.encode(actor.user_id)
    actor_part = f',"actor_label":{encode(actor.label)},"actor_user_id":{user},"after":'
    at_part = f',"at":{encode(at.isoformat())},"before":'

    def event_hash(prev: str, seq: int, action: str, object_type: str, object_id: str, before: str,
                   after: str) -> str:
        payload = "".join(('{"action":', encode(action), actor_part, after, at_part, before, ',"object_id":',
                           encode(object_id), ',"object_type":', encode(object_type), ',"prev_hash":',
                           encode(prev), ',"seq":', str(int(seq)), "}"))
        return hashlib.sha256(payload.encode("ascii")).hexdigest()

    return event_hash


def _stream_count() -> int:
    count: int = getattr(settings, "HOTLINE_AUDIT_STREAMS", 16)
    return max(1, count)


def _locked_head(stream: int | None = None) -> _Head:
    """Lock and return a stream head. PostgreSQL: the first head no other transaction has locked
    (SKIP LOCKED), so concurrent writers each take their own stream; if every stream is busy, wait
    for one. SQLite: writers are serialised by the database anyway, so it is stream 1."""
    if stream is None and connection.vendor == "postgresql":
        free = _head_row("SELECT id, position, hash FROM audit_audithead WHERE id <= %s ORDER BY id LIMIT 1 "
                         "FOR UPDATE SKIP LOCKED", _stream_count())
        if free is not None:
            return free
        if AuditHead.objects.filter(id__lte=_stream_count()).count() < _stream_count():
            _create_heads()
            return _locked_head()
        stream = 1 + os.getpid() % _stream_count()
    stream = stream or 1
    sql = _HEAD_LOCKED if connection.features.has_select_for_update else _HEAD_AND_TOP
    head = _head_row(sql, stream)
    if head is None:
        _create_heads(stream)
        head = _head_row(sql, stream)
        assert head is not None
    return head


_HEAD = "SELECT id, position, hash FROM audit_audithead WHERE id = %s"
_HEAD_LOCKED = _HEAD + " FOR UPDATE"
# SQLite (no row locks: the transaction holds the database's write lock): the head and the largest event id and
# seq in one statement, not two.
_HEAD_AND_TOP = ("SELECT id, position, hash, MAX(COALESCE((SELECT MAX(id) FROM audit_auditevent), 0), "
                 "COALESCE((SELECT MAX(seq) FROM audit_auditevent), 0)) FROM audit_audithead WHERE id = %s")


def _head_row(sql: str, value: int) -> _Head | None:
    found = plainsql.fetch_all(sql, [value])
    if not found:
        return None
    row = found[0]
    return _Head(int(row[0]), int(row[1]), str(row[2]), int(row[3]) if len(row) > 3 else None)


def _create_heads(*extra: int) -> None:
    wanted = set(range(1, _stream_count() + 1)) | set(extra)
    with transaction.atomic():
        AuditHead.objects.bulk_create([AuditHead(id=n) for n in sorted(wanted)], ignore_conflicts=True)


def _reserve_ids(n: int, head: _Head) -> list[int]:
    """``n`` new event ids, also used as their global seq (increasing, gaps allowed)."""
    if connection.vendor == "postgresql":
        return reserve_ids(AuditEvent, n)
    # SQLite: this transaction holds the database's write lock, so the maximum read with the head cannot move.
    assert head.top is not None
    return list(range(head.top + 1, head.top + n + 1))


def _insert(rows: list[Row]) -> None:
    if connection.vendor != "postgresql":  # one INSERT of many rows; the JSON as the text hashed
        at = connection.ops.adapt_datetimefield_value(rows[0][4])  # one ``at`` per append
        columns = ", ".join(_COLUMNS)
        for start in range(0, len(rows), 50):  # 14 parameters a row: under SQLite's limit per statement
            chunk = rows[start:start + 50]
            values = ", ".join([f"({', '.join(['%s'] * len(_COLUMNS))})"] * len(chunk))
            params = [value for row in chunk
                      for value in (*row[:4], at, *row[5:10], _sql_json(row[10]), _sql_json(row[11]), *row[12:])]
            plainsql.execute(f"INSERT INTO audit_auditevent ({columns}) VALUES {values}", params)  # noqa: S608 (no input)
        return
    # PostgreSQL: COPY, several times faster than INSERT for thousands of rows; the lines are built as
    # text here (psycopg's write_row adapts every value of every row, several µs per event).
    texts: dict[object, str] = {}  # the events of one write share their time and actor: format them once

    def once(value: datetime | str | int | None) -> str:
        text = texts.get(value)
        if text is None:
            plain = value.isoformat() if isinstance(value, datetime) else value
            text = texts[value] = _NULL if plain is None else copy_text(str(plain))
        return text

    # Text fields needing no escape (the usual case) are written as they are, after one scan of them all.
    plain = not _COPY_SPECIAL.search("".join(["".join(row[7:12]) for row in rows]))
    text, json_text = (_as_is, _copy_null) if plain else (copy_text, _copy_json)
    lines = [
        "\t".join((str(seq), str(seq_), str(stream), str(position), once(at), once(label), once(user),
                   text(action), text(object_type), text(object_id), json_text(before), json_text(after), prev,
                   digest))
        for (seq, seq_, stream, position, at, label, user, action, object_type, object_id, before, after, prev,
             digest) in rows
    ]
    lines.append("")
    with connection.wrap_database_errors, connection.cursor() as cursor:
        copy_lines(cursor, f"COPY audit_auditevent ({', '.join(_COLUMNS)}) FROM STDIN", "\n".join(lines))


def _copy_json(text: str) -> str:
    return _NULL if text == "null" else copy_text(text)


def _copy_null(text: str) -> str:
    return _NULL if text == "null" else text


def _as_is(text: str) -> str:
    return text


def _sql_json(text: str) -> str | None:
    return None if text == "null" else text


# --- seals --------------------------------------------------------------------------------------


def seal(*, now: datetime | None = None) -> AuditSeal | None:
    """Fold the current head of every stream into a new seal, chained to the previous one.

    Reads committed heads only (a head row moves in the transaction of its events), so a seal never
    names an event that could still roll back. Returns None when nothing changed since the last seal
    or another sealer won the race (its seal covers the same heads)."""
    with transaction.atomic():
        last = AuditSeal.objects.order_by("-id").first()
        heads = {str(h.id): [h.position, h.hash] for h in AuditHead.objects.order_by("id") if h.position}
        if last is not None and last.heads == heads:
            return None
        new = AuditSeal(sealed_at=now or timezone.now(), heads=heads, prev_hash=last.hash if last else GENESIS)
        new.hash = new.compute_hash()
        try:
            with transaction.atomic():
                new.save()
        except IntegrityError:
            return None  # another sealer appended to the same previous seal first
        # Outside the database once committed (a crash before it: the next seal's anchor covers this one).
        transaction.on_commit(lambda: anchor.write(new, settings.HOTLINE_AUDIT_ANCHOR_FILE))
        return new


def seal_due(*, now: datetime) -> bool:
    """Seal the stream heads when the newest seal is older than ``HOTLINE_AUDIT_SEAL_SECONDS`` (the worker's
    ``steps.seal_step``). True when a new seal was written."""
    interval = timedelta(seconds=getattr(settings, "HOTLINE_AUDIT_SEAL_SECONDS", 30))
    last = AuditSeal.objects.order_by("-id").values_list("sealed_at", flat=True).first()
    if last is not None and now - last < interval:
        return False
    return seal(now=now) is not None


# --- verify -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    seq: int | None
    message: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    problems: list[Problem]
    head_hash: str
    streams: int = 0
    seals: int = 0
    anchors: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(*, anchors: str | None = None) -> VerifyResult:
    """Recompute every hash and link of every stream and every seal; report edited, inserted,
    deleted, reordered or truncated events and seals; and, given a file of anchors (``hotline.audit.anchor``),
    every anchored seal missing or with another hash."""
    seals = list(AuditSeal.objects.order_by("id"))
    sealed = _sealed_positions(seals)
    problems: list[Problem] = []
    found_sealed: dict[tuple[int, int], tuple[int, str]] = {}
    lasts: dict[int, AuditEvent] = {}
    checked = 0
    stream: int | None = None
    expected_position, expected_prev = 1, GENESIS
    for event in _ordered_events():
        checked += 1
        if event.stream != stream:
            stream, expected_position, expected_prev = event.stream, 1, GENESIS
        problems.extend(_check_one(event, expected_position, expected_prev))
        expected_position, expected_prev = event.position + 1, event.hash
        lasts[event.stream] = event
        if (event.stream, event.position) in sealed:
            found_sealed[(event.stream, event.position)] = (event.seq, event.hash)
    problems.extend(_check_heads(lasts))
    problems.extend(_check_seals(seals, found_sealed))
    anchored = 0
    if anchors:
        anchored, wrong = anchor.check(anchors, seals)
        problems.extend(Problem(None, message) for message in wrong)
    return VerifyResult(checked=checked, problems=problems, head_hash=_heads_digest(lasts),
                        streams=len(lasts), seals=len(seals), anchors=anchored)


def _ordered_events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("stream", "position").iterator(chunk_size=5000)


def _check_one(event: AuditEvent, position: int, prev: str) -> list[Problem]:
    where = f"stream {event.stream} #{event.position}"
    found: list[Problem] = []
    if event.position != position:
        found.append(Problem(event.seq, f"{where}: events {position}..{event.position - 1} of the stream are missing"))
    if event.prev_hash != prev:
        if event.position == 1:
            found.append(Problem(event.seq, f"{where}: first event does not start from the genesis hash"))
        else:
            found.append(Problem(event.seq, f"{where}: link to the previous event is broken"))
    if event.compute_hash() != event.hash:
        found.append(Problem(event.seq, f"{where}: content does not match its hash (edited)"))
    return found


def _check_heads(lasts: dict[int, AuditEvent]) -> list[Problem]:
    heads = {h.id: (h.position, h.hash) for h in AuditHead.objects.all() if h.position}
    problems: list[Problem] = []
    for stream in sorted(set(heads) | set(lasts)):
        last = lasts.get(stream)
        head_position, head_hash = heads.get(stream, (0, GENESIS))
        last_position, last_hash = (last.position, last.hash) if last else (0, GENESIS)
        if (head_position, head_hash) != (last_position, last_hash):
            problems.append(Problem(last.seq if last else None,
                                    f"stream {stream} ends at #{last_position} but its head says #{head_position}"))
    return problems


def _seal_heads(s: AuditSeal) -> list[tuple[int, int, str]]:
    """(stream, position, hash) named by a seal; malformed entries are skipped (its hash fails)."""
    heads = s.heads if isinstance(s.heads, dict) else {}
    out: list[tuple[int, int, str]] = []
    for stream, pair in heads.items():
        if str(stream).isdigit() and isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int):
            out.append((int(stream), pair[0], str(pair[1])))
    return sorted(out)


def _sealed_positions(seals: list[AuditSeal]) -> set[tuple[int, int]]:
    return {(stream, position) for s in seals for stream, position, _ in _seal_heads(s)}


def _check_seals(seals: list[AuditSeal], found: dict[tuple[int, int], tuple[int, str]]) -> list[Problem]:
    problems: list[Problem] = []
    prev = GENESIS
    reached: dict[int, int] = {}
    for s in seals:
        where = f"seal {s.pk}"
        if s.prev_hash != prev:
            problems.append(Problem(None, f"{where}: link to the previous seal is broken"))
        if s.compute_hash() != s.hash:
            problems.append(Problem(None, f"{where}: content does not match its hash (edited)"))
        prev = s.hash
        for stream, position, hash_ in _seal_heads(s):
            named = f"{where}: sealed event stream {stream} #{position}"
            if position < reached.get(stream, 0):
                problems.append(Problem(None, f"{where}: stream {stream} went back from #{reached[stream]}"))
            reached[stream] = max(position, reached.get(stream, 0))
            event = found.get((stream, position))
            if event is None:
                problems.append(Problem(None, f"{named} is missing"))
            elif event[1] != hash_:
                problems.append(Problem(event[0], f"{named} has another hash"))
    return problems


def _heads_digest(lasts: dict[int, AuditEvent]) -> str:
    """One hash naming the state of every stream (what a seal made now would cover)."""
    if not lasts:
        return GENESIS
    return chain_hash(heads={str(s): [e.position, e.hash] for s, e in sorted(lasts.items())})


def timeline(object_type: str, object_id: object) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_object(object_type, object_id))


__all__ = [
    "SYSTEM", "Actor", "Change", "Encoded", "canonical_json", "record", "record_bulk", "record_encoded", "record_many",
    "seal", "seal_due", "timeline", "verify",
]
