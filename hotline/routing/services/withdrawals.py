"""When the inherited verdicts an item was routed on are withdrawn (hashes.trust), its current routing
decision is re-opened for an analyst: the pending notice waits, and what was already sent is listed."""

from __future__ import annotations

from hotline.assessment.services.known import relied_items
from hotline.audit.services import record
from hotline.hashes.services.trust import Withdrawal, register_withdrawal_hook
from hotline.routing import actions
from hotline.routing.models import Decision, Route


def _decisions(item_ids: frozenset[int], media_ids: frozenset[int]) -> list[Decision]:
    items = relied_items(item_ids, media_ids)
    return list(Decision.objects.current().filter(item__in=items).order_by("pk"))


def _sent(decision: Decision) -> bool:
    return (decision.route in (Route.PARTNER, Route.INTERNATIONAL_POLICE) or decision.police_id is not None
            or "notice_taken_at" in decision.inputs)


def preview(item_ids: frozenset[int], media_ids: frozenset[int]) -> dict[str, int]:
    decisions = _decisions(item_ids, media_ids)
    return {"decisions": len(decisions), "notices_held": sum(d.notice_due_at is not None for d in decisions),
            "already_sent": sum(_sent(d) for d in decisions)}


def apply(withdrawal: Withdrawal) -> dict[str, int]:
    decisions = _decisions(withdrawal.item_ids, withdrawal.media_ids)
    counts = {"decisions": len(decisions), "notices_held": 0, "already_sent": 0}
    for decision in decisions:
        held = decision.notice_due_at
        reasons = [*decision.inputs.get("reasons", []), withdrawal.reason]
        decision.inputs = {**decision.inputs, "reasons": reasons,
                           **({"held_notice_due_at": held.isoformat()} if held else {})}
        decision.needs_analyst, decision.notice_due_at = True, None
        decision.save(update_fields=["inputs", "needs_analyst", "notice_due_at"])
        counts["notices_held"] += held is not None
        counts["already_sent"] += _sent(decision)
        record(withdrawal.actor, actions.REOPENED, ("reports.item", decision.item_id), now=withdrawal.now,
               after={"decision": decision.pk, "route": decision.route, "reason": withdrawal.reason,
                      "notice_held": held is not None, "already_sent": _sent(decision)})
    return counts


def register() -> None:
    register_withdrawal_hook("routing", preview, apply)
