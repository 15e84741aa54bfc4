"""Second-factor services: enrolment, verification (TOTP or a recovery code), re-authentication,
recovery-code renewal and reset. Each audits in its transaction; a wrong code is an outcome, not an
exception, so the failure it counts towards the lockout is committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hotline.accounts import actions, otp
from hotline.accounts.models import RecoveryCode, TOTPDevice, User
from hotline.accounts.services.lockout import clear_failures, is_locked, register_failure
from hotline.audit.services import Actor, record


class AlreadyEnrolled(Exception):
    """The user has a confirmed authenticator; only an administrator's reset allows a new one."""


@dataclass(frozen=True)
class Verification:
    ok: bool
    locked: bool = False
    method: str = ""  # "totp" or "recovery"


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.confirmed().filter(user=user).first()


@transaction.atomic
def start_enrolment(user: User, *, now: datetime | None = None) -> TOTPDevice:
    """The pending authenticator for ``user``: the same secret on every visit until confirmed."""
    device = TOTPDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.is_confirmed:
        raise AlreadyEnrolled
    if device is None:
        device = TOTPDevice.objects.create(user=user, secret=otp.new_secret(), created_at=now or timezone.now())
        record(Actor.of_user(user), actions.SECOND_FACTOR_ENROLMENT_STARTED, user, now=now)
    return device


@transaction.atomic
def confirm_enrolment(user: User, code: str, *, now: datetime) -> list[str] | None:
    """Confirm the pending authenticator with a valid code; return the new recovery codes (shown
    once), or None when the code is wrong. A typo here counts no failure: nothing is unlocked."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
    step = otp.matching_step_number(device.secret, code, now) if device else None
    if device is None or step is None:
        return None
    device.confirmed_at, device.last_used_step = now, step
    device.save(update_fields=["confirmed_at", "last_used_step"])
    codes = _replace_recovery_codes(user, now)
    clear_failures(user)
    record(Actor.of_user(user), actions.SECOND_FACTOR_ENROLLED, user, now=now,
           after={"method": "totp", "recovery_codes": len(codes)})
    return codes


@transaction.atomic
def enrol_with_secret(user: User, secret: str, *, actor: Actor, now: datetime | None = None) -> TOTPDevice:
    """Pre-enrol a confirmed authenticator with a known secret (the demo prints it next to the login)."""
    now = now or timezone.now()
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, secret=secret, created_at=now, confirmed_at=now)
    record(actor, actions.SECOND_FACTOR_ENROLLED, user, now=now, after={"method": "totp", "preset": True})
    return device


def ensure_enrolled(user: User, *, actor: Actor, secret: str | None = None) -> str:
    """The secret of the user's authenticator, pre-enrolling one (``secret`` or a new one) if there is none
    (demo users)."""
    device = confirmed_device(user) or enrol_with_secret(user, secret or otp.new_secret(), actor=actor)
    enrolled: str = device.secret
    return enrolled


@transaction.atomic
def verify_second_factor(user: User, code: str, *, now: datetime, ip: str = "",
                         purpose: str = "login") -> Verification:
    """Check a TOTP code (each time-step once) or an unused recovery code; count a failure otherwise."""
    actor = Actor.of_user(user)
    if is_locked(user, now):
        record(actor, actions.SECOND_FACTOR_REFUSED, user, now=now, after={"reason": "locked", "purpose": purpose,
                                                                            "ip": ip})
        return Verification(ok=False, locked=True)
    method = "totp" if otp.looks_like_totp(code) else "recovery"
    passed = _use_totp(user, code, now) if method == "totp" else _use_recovery_code(user, code, now)
    if passed:
        clear_failures(user)
        record(actor, actions.SECOND_FACTOR_PASSED, user, now=now, after={"method": method, "purpose": purpose})
        return Verification(ok=True, method=method)
    record(actor, actions.SECOND_FACTOR_FAILED, user, now=now, after={"method": method, "purpose": purpose,
                                                                       "ip": ip})
    return Verification(ok=False, locked=register_failure(user, factor="second_factor", now=now, ip=ip))


def _use_totp(user: User, code: str, now: datetime) -> bool:
    device = confirmed_device(user)
    step = otp.matching_step_number(device.secret, code, now) if device else None
    if device is None or step is None:
        return False
    # Conditional UPDATE: of two requests with the same code, exactly one wins; older steps never pass.
    return TOTPDevice.objects.filter(pk=device.pk).filter(
        Q(last_used_step__isnull=True) | Q(last_used_step__lt=step)).update(last_used_step=step) == 1


def _use_recovery_code(user: User, code: str, now: datetime) -> bool:
    if confirmed_device(user) is None:
        return False
    used = RecoveryCode.objects.unused().filter(user=user, code_hash=otp.hash_recovery_code(code)).update(used_at=now)
    if used != 1:
        return False
    record(Actor.of_user(user), actions.RECOVERY_CODE_USED, user, now=now,
           after={"remaining": RecoveryCode.objects.unused().filter(user=user).count()})
    return True


@transaction.atomic
def reauthenticate(user: User, password: str, code: str, *, now: datetime, ip: str = "") -> Verification:
    """Password and second factor again, before a sensitive action."""
    if is_locked(user, now):
        return verify_second_factor(user, code, now=now, ip=ip, purpose="reauth")  # refused and audited
    if not user.check_password(password):
        record(Actor.of_user(user), actions.REAUTH_FAILED, user, now=now, after={"factor": "password", "ip": ip})
        return Verification(ok=False, locked=register_failure(user, factor="password", now=now, ip=ip))
    return verify_second_factor(user, code, now=now, ip=ip, purpose="reauth")


@transaction.atomic
def regenerate_recovery_codes(user: User, *, actor: Actor, now: datetime | None = None) -> list[str]:
    """Replace every recovery code of an enrolled user; the old ones stop working."""
    now = now or timezone.now()
    if confirmed_device(user) is None:
        raise ValueError("recovery codes need an enrolled authenticator first")
    codes = _replace_recovery_codes(user, now)
    record(actor, actions.RECOVERY_CODES_GENERATED, user, now=now, after={"count": len(codes)})
    return codes


def _replace_recovery_codes(user: User, now: datetime) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [otp.new_recovery_code() for _ in range(otp.RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=otp.hash_recovery_code(code), created_at=now) for code in codes])
    return codes


@transaction.atomic
def reset_second_factor(user: User, *, actor: Actor, now: datetime | None = None) -> int:
    """Remove the authenticator and recovery codes (lost phone) and end the user's sessions, so the
    next login enrols afresh. Return the number of sessions ended."""
    now = now or timezone.now()
    had_device = TOTPDevice.objects.filter(user=user).delete()[0] > 0
    codes = RecoveryCode.objects.filter(user=user).delete()[0]
    ended = end_sessions(user, now=now)
    record(actor, actions.SECOND_FACTOR_RESET, user, now=now,
           before={"device": had_device, "recovery_codes": codes}, after={"sessions_ended": ended})
    return ended


def end_sessions(user: User, *, now: datetime) -> int:
    """Delete the user's live database sessions (few: sessions expire after 30 idle minutes)."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=now).iterator():
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            session.delete()
            ended += 1
    return ended
