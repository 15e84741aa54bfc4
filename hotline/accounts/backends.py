"""Password authentication that refuses locked accounts, even with the right password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.utils import timezone

from hotline.accounts.models import User
from hotline.accounts.services import is_locked


class LockoutBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> User | None:
        # The password is checked first either way, so a locked account answers as slowly as any other.
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if isinstance(user, User) and is_locked(user, timezone.now()):
            return None  # Django then sends user_login_failed: audited like any wrong password
        return user
