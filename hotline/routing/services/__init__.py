"""Routing's services: every audited change routing makes.

- ``decisions``: the routing rules, decisions and their actions, police referrals queued and answered;
- ``referrals``: delivering queued police referrals (evidence package and summary, crash-safe);
- ``packages``: evidence packages downloaded from the police desk;
- ``withdrawals``: re-opening decisions when the inherited verdicts they rest on are withdrawn.

The worker steps that drive them are in ``hotline.routing.steps``.
"""

from hotline.routing.services.decisions import (
    ILLEGAL,
    OTHER_HARM,
    ROUTED_VERDICTS,
    Plan,
    RoutingError,
    decide,
    home_country,
    items_to_route,
    mark_notice_taken,
    mark_notices_taken,
    open_decisions_needing_analyst,
    police_contact,
    record_police_answer,
    refer_items,
    route_due,
    route_item,
)
from hotline.routing.services.packages import (
    Package,
    download_item_package,
    download_referral_package,
    item_package,
    referral_package,
)
from hotline.routing.services.referrals import DeliveryError, deliver_due_referral, message_id, summary

__all__ = [
    "ILLEGAL", "OTHER_HARM", "ROUTED_VERDICTS", "DeliveryError", "Package", "Plan", "RoutingError", "decide",
    "deliver_due_referral", "download_item_package", "download_referral_package", "home_country", "item_package",
    "items_to_route", "mark_notice_taken", "mark_notices_taken", "message_id", "open_decisions_needing_analyst",
    "police_contact",
    "record_police_answer", "refer_items", "referral_package", "route_due", "route_item", "summary",
]
