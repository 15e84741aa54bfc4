"""Accounts' services: every change to a user, an API client, a second factor or a lockout, each audited
in its transaction. Modules: users (accounts and roles), apiclients, twofactor (enrolment, verification,
re-authentication, reset), lockout (failed attempts), logins (the audit of sign-ins)."""

from hotline.accounts.services.apiclients import (
    LAST_USE_GRANULARITY,
    client_for_token,
    issue_api_client,
    note_client_use,
    revoke_api_client,
)
from hotline.accounts.services.lockout import clear_failures, is_locked, register_failure, unlock
from hotline.accounts.services.logins import record_failed_login, record_login, record_logout
from hotline.accounts.services.twofactor import (
    AlreadyEnrolled,
    Verification,
    confirm_enrolment,
    confirmed_device,
    end_sessions,
    enrol_with_secret,
    ensure_enrolled,
    reauthenticate,
    regenerate_recovery_codes,
    reset_second_factor,
    start_enrolment,
    verify_second_factor,
)
from hotline.accounts.services.users import (
    AccountError,
    create_user,
    deactivate_user,
    one_time_password,
    reactivate_user,
    set_role,
)

__all__ = [
    "LAST_USE_GRANULARITY", "AccountError", "AlreadyEnrolled", "Verification", "clear_failures", "client_for_token",
    "confirm_enrolment", "confirmed_device", "create_user", "deactivate_user", "end_sessions", "enrol_with_secret",
    "ensure_enrolled", "is_locked", "issue_api_client", "note_client_use", "one_time_password", "reactivate_user",
    "reauthenticate", "record_failed_login", "record_login", "record_logout", "regenerate_recovery_codes",
    "register_failure", "reset_second_factor", "revoke_api_client", "set_role", "start_enrolment", "unlock",
    "verify_second_factor",
]
