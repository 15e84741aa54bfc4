"""Staff accounts with one role each, and API clients (partners, industry, police) with tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


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
