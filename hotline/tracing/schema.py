"""The shape of a provider directory record, shared by the edit form, CSV/JSON import and cdns.json.

Strict on purpose: directory files are hostile input like any upload, and every error names the
field it is about.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hotline.lib.textguard import text_problem

MAX_ASN = 2**32 - 1
_LANGUAGE = re.compile(r"^[a-z]{2}(-[A-Za-z]{2})?$")


def _storable(value: object) -> object:
    """PostgreSQL refuses NUL in text: refuse it here, naming the field, instead of failing the write."""
    if isinstance(value, str) and (problem := text_problem(value)) is not None:
        raise ValueError(problem)
    return value


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: int | None = None
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    endpoint: str = Field(default="", max_length=200)
    channel: Literal["email", "api"] = "email"
    language: str = Field(default="en", max_length=8)
    repeat_hours: int = Field(default=24, ge=1, le=24 * 31)

    @field_validator("*", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return _storable(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value:
            try:
                validate_email(value)
            except ValidationError as exc:
                raise ValueError("not an e-mail address") from exc
        return value.lower()

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("must be an https:// URL")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not _LANGUAGE.match(value):
            raise ValueError("must be a language code such as en, nl or fr")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> ContactIn:
        if not self.email and not self.endpoint:
            raise ValueError("a contact needs an e-mail address or an API endpoint")
        if self.channel == "api" and not self.endpoint:
            raise ValueError("channel 'api' needs an endpoint")
        if self.channel == "email" and not self.email:
            raise ValueError("channel 'email' needs an e-mail address")
        return self


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    country: str = Field(default="", max_length=2)
    is_cdn: bool = False
    website: str = Field(default="", max_length=300)
    notes: str = Field(default="", max_length=5000)
    asns: list[int] = Field(default_factory=list, max_length=1000)
    cidrs: list[str] = Field(default_factory=list, max_length=10000)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)

    @field_validator("name", "country", "website", "notes", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return _storable(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.upper()
        if value and not (len(value) == 2 and value.isalpha()):
            raise ValueError("must be a two-letter country code")
        return value

    @field_validator("asns")
    @classmethod
    def _asns(cls, values: list[int]) -> list[int]:
        bad = [v for v in values if not 0 < v <= MAX_ASN]
        if bad:
            raise ValueError(f"not an AS number: {bad[0]}")
        return sorted(set(values))

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        found: list[str] = []
        for value in values:
            try:
                network = ipaddress.ip_network(value.strip(), strict=True)
            except ValueError as exc:
                raise ValueError(f"not an address range: {value[:60]!r} ({exc})") from exc
            if str(network) not in found:
                found.append(str(network))
        return found


def parse_asn(text: str) -> int:
    """``"AS13335"``, ``"as13335"`` or ``"13335"`` -> 13335 (ValueError otherwise)."""
    digits = text.strip().upper().removeprefix("AS")
    if not digits.isdigit() or not 0 < int(digits) <= MAX_ASN:
        raise ValueError(f"not an AS number: {text[:40]!r}")
    return int(digits)


def split_networks(text: str) -> tuple[list[int], list[str]]:
    """Free text (one per line, or separated by spaces/semicolons/commas) -> (AS numbers, ranges)."""
    asns: list[int] = []
    cidrs: list[str] = []
    for token in re.split(r"[\s;,]+", text.strip()):
        if not token:
            continue
        if "/" in token or ":" in token or "." in token:
            cidrs.append(token)
        else:
            asns.append(parse_asn(token))
    return asns, cidrs
