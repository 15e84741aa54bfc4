"""Takedown's services: every audited change takedown makes.

- ``notices``: open a takedown when routing says a notice is due, batch items into notices, what providers
  and their mail servers say (acknowledged, removal reported, delivered, bounced);
- ``sending``: claim, re-trace, send and record notices (crash-safe), queue repeats;
- ``liveness``: claim due checks and run them; ``checks``: what they find (miss, removed, back online,
  re-upload) applied to the life cycle;
- ``escalation``: the escalation ladder;
- ``bounces``: delivery reports from the bounce mailbox;
- ``inforequests``: information requests to companies, their reminders, messages and answers;
- ``directory``: sending policies and escalation contacts (admin).

The worker steps that drive them are in ``hotline.takedown.steps``.
"""

from hotline.takedown.services.bounces import BouncePoll, bounce_source, poll_bounces, read_mailbox, receive_bounce
from hotline.takedown.services.checks import CheckOutcome, next_check_time, record_check
from hotline.takedown.services.directory import delete_directory_row, json_safe, save_directory_row
from hotline.takedown.services.escalation import (
    escalate,
    escalate_due,
    escalation_contact,
    registered_domain,
    rung_due_at,
)
from hotline.takedown.services.inforequests import (
    NewRequest,
    RequestInvalid,
    create_info_request,
    follow_up,
    follow_up_due,
    record_answer,
    render_request,
    send_due_messages,
)
from hotline.takedown.services.liveness import (
    LivenessConfig,
    check_due,
    claim_checks,
    config_from_settings,
    record_results,
)
from hotline.takedown.services.notices import (
    MAX_NOTICE_ITEMS,
    TakedownError,
    acknowledge_notice,
    batch_window,
    open_takedown,
    provider_actor,
    provider_reports_removal,
    record_bounce,
    record_delivery,
    take_due_decisions,
)
from hotline.takedown.services.sending import claim_notice, deliver, queue_repeats, send_due

__all__ = [
    "MAX_NOTICE_ITEMS", "BouncePoll", "CheckOutcome", "LivenessConfig", "NewRequest", "RequestInvalid",
    "TakedownError", "acknowledge_notice", "batch_window", "bounce_source", "check_due",
    "claim_checks", "claim_notice", "config_from_settings", "create_info_request", "delete_directory_row",
    "deliver", "escalate", "escalate_due", "escalation_contact", "follow_up", "follow_up_due", "json_safe",
    "next_check_time", "open_takedown", "poll_bounces", "provider_actor",
    "provider_reports_removal", "queue_repeats", "read_mailbox", "receive_bounce", "record_answer",
    "record_bounce", "record_check", "record_delivery", "record_results", "registered_domain", "render_request",
    "rung_due_at", "save_directory_row", "send_due", "send_due_messages", "take_due_decisions",
]
