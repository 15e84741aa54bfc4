"""Support contacts shown at once to someone reporting sextortion or grooming, from configuration.

``HOTLINE_SUPPORT_CONTACTS`` is a JSON list; each entry has a ``name`` and at least one way to reach
it (``phone``, ``url``), an optional ``text`` and optional ``kinds`` (the report kinds it is shown
for; all when absent). ``name`` and ``text`` are a string or a ``{"nl": ..., "fr": ..., "en": ...}``
object. Nothing is built in: a hotline configures the helplines of its own country.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

KINDS = ("sextortion", "grooming", "solicitation")
_KEYS = {"name", "phone", "url", "text", "kinds"}


@dataclass(frozen=True)
class SupportContact:
    name: dict[str, str]
    phone: str = ""
    url: str = ""
    text: dict[str, str] | None = None
    kinds: tuple[str, ...] = KINDS

    def for_language(self, language: str) -> dict[str, str]:
        """The contact as one language shows it (English, then any, when the language is missing)."""
        return {"name": _pick(self.name, language), "phone": self.phone, "url": self.url,
                "text": _pick(self.text or {}, language)}


def _pick(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


def _texts(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str) and value.strip():
        return {"en": value.strip()}
    if isinstance(value, dict) and value and all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()):
        return {k: v.strip() for k, v in value.items()}
    raise ValueError(f"{where} must be a text or an object of language -> text")


def parse(raw: str) -> list[SupportContact]:
    """The contacts in ``raw`` (JSON); ``ValueError`` names the first bad entry and field."""
    if not raw.strip():
        return []
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, list):
        raise ValueError("must be a JSON list of contacts")
    contacts = []
    for index, entry in enumerate(data):
        where = f"entry {index}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r}")
        phone, url = entry.get("phone", ""), entry.get("url", "")
        if not isinstance(phone, str) or not isinstance(url, str) or not (phone.strip() or url.strip()):
            raise ValueError(f"{where} needs a phone or a url (text)")
        if url and not url.startswith("https://"):
            raise ValueError(f"{where}: url must start with https://")
        kinds = entry.get("kinds", list(KINDS))
        if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
            raise ValueError(f"{where}: kinds must be a list of {', '.join(KINDS)}")
        contacts.append(SupportContact(
            name=_texts(entry.get("name"), f"{where}.name"), phone=phone.strip(), url=url.strip(),
            text=_texts(entry["text"], f"{where}.text") if "text" in entry else None, kinds=tuple(kinds)))
    return contacts
