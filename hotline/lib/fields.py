"""Model fields whose values are encrypted at rest with the installation's field keys."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

from hotline.lib.crypto import Keyring


@lru_cache(maxsize=4)
def _keyring(spec: str) -> Keyring:
    return Keyring.parse(spec)


def field_keyring() -> Keyring:
    spec: str = settings.HOTLINE_FIELD_KEYS
    return _keyring(spec)


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored as an AES-256-GCM token bound to its column; empty stays empty.

    Encrypted values cannot be searched or ordered; keep what must be queried elsewhere.
    """

    def _aad(self) -> bytes:
        return f"{self.model._meta.label_lower}.{self.name}".encode()

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return field_keyring().encrypt(str(value).encode("utf-8"), aad=self._aad())

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> str | None:
        if value in (None, ""):
            return value
        assert value is not None
        return field_keyring().decrypt(value, aad=self._aad()).decode("utf-8")
