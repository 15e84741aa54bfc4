from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.audit.models import AuditEvent
from hotline.audit.services import Actor, _encode, _event_hasher


@pytest.mark.parametrize("actor", [Actor("system"), Actor("user:Zoë \"q\"", 7)])
@pytest.mark.parametrize(("before", "after"), [
    (None, None),
    ({"b": 1, "a": [1, "x"]}, {"url": "http://é.sim.test/\u2028?q=\"\\", "nested": {"z": None, "y": 2.5}}),
])
def test_the_fast_hash_is_the_events_own_hash(actor: Actor, before: dict[str, object] | None,
                                              after: dict[str, object] | None) -> None:
    """Bulk appends hash events from pre-encoded JSON; verify recomputes ``compute_hash`` from the row."""
    at = datetime(2026, 12, 6, 17, 0, 1, 123456, tzinfo=UTC)
    event = AuditEvent(seq=42, at=at, actor_label=actor.label, actor_user_id=actor.user_id, action="item.créé",
                       object_type="reports.item", object_id="9", before=before, after=after, prev_hash="ab" * 32)
    fast = _event_hasher(actor, at)(event.prev_hash, 42, event.action, "reports.item", "9", _encode(before),
                                   _encode(after))
    assert fast == event.compute_hash()
