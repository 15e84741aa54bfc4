"""The connector's services: every write to our database with its audit event (``writes``), the pull
(``pull``), the push outbox (``push``) and the code table (``codes``). The worker steps call these."""

from hotline.iccam.services.codes import load_codes, store_codes
from hotline.iccam.services.pull import pull_due
from hotline.iccam.services.push import push_due
from hotline.iccam.services.writes import (
    REFERENCE_STAMP,
    Imported,
    claim_pull,
    claim_push,
    finish_pull,
    import_report,
    kind_label,
    pause,
    pull_state,
    push_failed,
    push_refused,
    push_sent,
    push_uncertain,
    queue_push,
    queue_pushes,
    reference_for,
    referenced,
    report_created,
)

__all__ = [
    "REFERENCE_STAMP", "Imported", "claim_pull", "claim_push", "finish_pull", "import_report", "kind_label",
    "load_codes", "pause", "paused", "pull_due", "pull_state", "push_due", "push_failed", "push_refused",
    "push_sent", "push_uncertain", "queue_push", "queue_pushes", "reference_for", "referenced", "report_created",
    "store_codes",
]
