"""The backend's ``DatabaseWrapper``: Django's PostgreSQL one, whose connections make :class:`LeanCursor` cursors."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from hotline.lib.pgbackend.cursor import SUPPORTED, LeanCursor, fits


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's, but for the cursor class: :class:`LeanCursor` where Django would use its own ``Cursor`` (not with
    ``server_side_binding`` or a ``cursor_factory`` of the settings' ``OPTIONS``), when the installed psycopg has
    what it needs."""

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if SUPPORTED and params.get("cursor_factory") is getattr(base, "Cursor", None):
            params["cursor_factory"] = LeanCursor
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if connection.cursor_factory is LeanCursor and not fits(connection):
            connection.cursor_factory = base.Cursor  # type: ignore[attr-defined]
        return connection
