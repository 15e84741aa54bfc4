"""The audit actions of the installation-wide commands in core (stored values: never change them)."""

from __future__ import annotations

from typing import Final

FIELD_KEYS_ROTATED: Final = "keys.fields_rotated"
