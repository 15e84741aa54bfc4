"""Case files: every change to a case, its items and its police outcomes, each with its audit event
(``case_files``), and the police's outcome CSV import (``outcome_import``)."""

from hotline.cases.services.case_files import (
    MAX_NOTE,
    CaseError,
    add_items,
    check_outcome,
    close_case,
    current_outcome,
    latest_allowed_date,
    open_case,
    outcome_change,
    record_outcome,
    refer_case,
    referable_items,
    remove_item,
    reopen_case,
)
from hotline.cases.services.outcome_import import COLUMNS, ImportFileError, import_outcomes

__all__ = [
    "COLUMNS", "MAX_NOTE", "CaseError", "ImportFileError", "add_items", "check_outcome", "close_case",
    "current_outcome", "import_outcomes", "latest_allowed_date", "open_case", "outcome_change", "record_outcome",
    "refer_case", "referable_items", "remove_item", "reopen_case",
]
