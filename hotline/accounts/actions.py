"""The audit actions of accounts: one constant per event the services record (values are stored; never change one)."""

from __future__ import annotations

from typing import Final

USER_CREATED: Final = "user.created"
USER_ROLE_CHANGED: Final = "user.role_changed"
USER_DEACTIVATED: Final = "user.deactivated"
USER_REACTIVATED: Final = "user.reactivated"

USER_LOGGED_IN: Final = "user.logged_in"
USER_LOGGED_OUT: Final = "user.logged_out"
USER_LOGIN_FAILED: Final = "user.login_failed"
USER_LOCKED: Final = "user.locked"
USER_UNLOCKED: Final = "user.unlocked"

SECOND_FACTOR_ENROLMENT_STARTED: Final = "user.second_factor_enrolment_started"
SECOND_FACTOR_ENROLLED: Final = "user.second_factor_enrolled"
SECOND_FACTOR_REFUSED: Final = "user.second_factor_refused"
SECOND_FACTOR_PASSED: Final = "user.second_factor_passed"
SECOND_FACTOR_FAILED: Final = "user.second_factor_failed"
SECOND_FACTOR_RESET: Final = "user.second_factor_reset"
RECOVERY_CODE_USED: Final = "user.recovery_code_used"
RECOVERY_CODES_GENERATED: Final = "user.recovery_codes_generated"
REAUTH_FAILED: Final = "user.reauth_failed"

API_CLIENT_CREATED: Final = "apiclient.created"
API_CLIENT_REVOKED: Final = "apiclient.revoked"
