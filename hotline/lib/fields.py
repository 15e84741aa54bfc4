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


def encrypted_columns() -> list[tuple[type[models.Model], EncryptedTextField]]:
    from django.apps import apps

    return [(model, field) for model in apps.get_models() for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField)]


def field_key_status() -> dict[str, int]:
    """How many stored values each field key id encrypts (an old key may go once its count is 0)."""
    from django.db import connection

    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        for model, field in encrypted_columns():
            table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field.column)
            cursor.execute(f"SELECT {column} FROM {table} WHERE {column} <> ''")  # noqa: S608 - names from models
            for (token,) in cursor.fetchall():
                key_id = field_keyring().key_id_of(token)
                counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def rotate_field_keys() -> int:
    """Re-encrypt every encrypted column value under the current field key, row by row; each UPDATE
    only applies when the row still holds the value that was read, so it is safe while the site runs."""
    from django.db import connection, transaction

    ring, moved = field_keyring(), 0
    prefix = f"v1:{ring.current}:"
    for model, field in encrypted_columns():
        table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field.column)
        pk = connection.ops.quote_name(model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''")  # noqa: S608
            rows = [(key, token) for key, token in cursor.fetchall() if not token.startswith(prefix)]
        for key, token in rows:
            new = ring.rewrap(token, aad=field._aad())
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                               [new, key, token])
                moved += cursor.rowcount
    return moved
