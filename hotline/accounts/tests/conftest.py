"""Sign-in helpers: the test plays the user's authenticator app with the known secret."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hotline.accounts import otp
from hotline.accounts.models import User
from hotline.accounts.services import enrol_with_secret
from hotline.audit.services import SYSTEM
from hotline.conftest import PASSWORD

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # test authenticator only


def code(secret: str = SECRET, now: datetime | None = None) -> str:
    return otp.code_at(secret, now or timezone.now())


def password_step(client: Client, username: str, password: str = PASSWORD, **extra: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


@pytest.fixture
def enrolled(db: None) -> Callable[[User], User]:
    """Give ``user`` a confirmed authenticator with ``SECRET``."""

    def make(user: User) -> User:
        enrol_with_secret(user, SECRET, actor=SYSTEM)
        return user

    return make


@pytest.fixture
def signed_in(enrolled: Callable[[User], User]) -> Callable[[User], Client]:
    """A client that went through password and TOTP code, like a person would."""

    def make(user: User) -> Client:
        enrolled(user)
        client = Client()
        password_step(client, user.username)
        response = client.post("/accounts/verify/", {"code": code()})
        assert response.status_code == 302, response
        return client

    return make


@pytest.fixture
def superuser(admin_user: User) -> User:
    """The administrator made a superuser as `hotline createsuperuser` would: only they open Django's admin."""
    User.objects.filter(pk=admin_user.pk).update(is_staff=True, is_superuser=True)
    admin_user.refresh_from_db()
    return admin_user
