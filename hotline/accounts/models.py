"""Staff accounts with one role each, their second factor and lockout state, and API clients with tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hotline.lib.fields import EncryptedTextField


class Role(models.TextChoices):
    ANALYST = "analyst", _("Analyst")
    SENIOR_ANALYST = "senior_analyst", _("Senior analyst")
    POLICE_LIAISON = "police_liaison", _("Police liaison")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Administrator")


ASSESSING_ROLES = frozenset({Role.ANALYST, Role.SENIOR_ANALYST})
REVIEWING_ROLES = frozenset({Role.SENIOR_ANALYST})


class User(AbstractUser):
    """A staff member. A user without a role can log in but sees nothing."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.role in roles


class ClientKind(models.TextChoices):
    PARTNER = "partner", _("Partner hotline")
    INDUSTRY = "industry", _("Industry")
    POLICE = "police", _("Police")


class ApiClientQuerySet(models.QuerySet["ApiClient"]):
    def active(self) -> ApiClientQuerySet:
        return self.filter(is_active=True)


class ApiClient(models.Model):
    """An organisation that submits reports through the JSON API with a bearer token.

    Only a SHA-256 of the token is stored; the token is shown once when it is issued.
    """

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=ClientKind.choices)
    country = models.CharField(_("country"), max_length=2, blank=True)
    token_prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Refreshed at most once a minute by the bearer-token check (services.note_client_use), not per request.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects: ClassVar[ApiClientQuerySet] = ApiClientQuerySet.as_manager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    @staticmethod
    def new_token() -> tuple[str, str]:
        """Return ``(prefix, token)``; the prefix identifies the token in logs and lists."""
        prefix = secrets.token_hex(4)
        return prefix, f"hl_{prefix}_{secrets.token_urlsafe(32)}"


class TOTPDeviceQuerySet(models.QuerySet["TOTPDevice"]):
    def confirmed(self) -> TOTPDeviceQuerySet:
        return self.filter(confirmed_at__isnull=False)


class TOTPDevice(models.Model):
    """A user's authenticator app: the shared secret (encrypted at rest) and the last time-step used.

    One per user. Unconfirmed while enrolment waits for its first valid code.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = EncryptedTextField(_("secret"))
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Replay guard: a code is accepted only for a time-step after this one.
    last_used_step = models.BigIntegerField(null=True, blank=True)

    objects: ClassVar[TOTPDeviceQuerySet] = TOTPDeviceQuerySet.as_manager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"authenticator of {self.user_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCodeQuerySet(models.QuerySet["RecoveryCode"]):
    def unused(self) -> RecoveryCodeQuerySet:
        return self.filter(used_at__isnull=True)


class RecoveryCode(models.Model):
    """A single-use code that stands in for a TOTP code; only its SHA-256 is stored (80 random bits)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[RecoveryCodeQuerySet] = RecoveryCodeQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            # Also the index for the lookup of a typed code: (user, code_hash).
            models.UniqueConstraint(fields=["user", "code_hash"], name="accounts_recovery_code_unique"),
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class Lockout(models.Model):
    """Failed sign-in attempts of one account (password or second factor) and the lock they lead to."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="lockout")
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lockout of {self.user_id}"

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now
