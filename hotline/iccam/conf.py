"""The connector's configuration, read from settings (``HOTLINE_ICCAM_*``, secrets also from ``*_FILE``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings

from hotline.lib.http import ClientCertificate

# setting name -> what it is, in the order the system check names missing ones
FIELDS = {
    "HOTLINE_ICCAM_BASE_URL": "base URL",
    "HOTLINE_ICCAM_CLIENT_CERT": "client certificate (PEM file)",
    "HOTLINE_ICCAM_CLIENT_KEY": "client key (PEM file)",
    "HOTLINE_ICCAM_CLIENT_KEY_PASSWORD": "client key passphrase",
    "HOTLINE_ICCAM_CA_BUNDLE": "CA bundle (PEM file)",
    "HOTLINE_ICCAM_USERNAME": "API user",
    "HOTLINE_ICCAM_PASSWORD": "API password",
}


@dataclass(frozen=True)
class IccamConfig:
    base_url: str
    certificate: ClientCertificate
    ca_bundle: str
    username: str
    password: str = field(repr=False)
    country: str
    max_results: int
    login_wait: float


def values() -> dict[str, str]:
    return {name: str(getattr(settings, name, "") or "") for name in FIELDS}


def enabled() -> bool:
    """On when every setting is there (the system check refuses a partial set)."""
    return all(values().values())


def config() -> IccamConfig | None:
    """The configuration, or None when the connector is off."""
    if not enabled():
        return None
    v = values()
    return IccamConfig(
        base_url=v["HOTLINE_ICCAM_BASE_URL"],
        certificate=ClientCertificate(v["HOTLINE_ICCAM_CLIENT_CERT"], v["HOTLINE_ICCAM_CLIENT_KEY"],
                                      v["HOTLINE_ICCAM_CLIENT_KEY_PASSWORD"]),
        ca_bundle=v["HOTLINE_ICCAM_CA_BUNDLE"], username=v["HOTLINE_ICCAM_USERNAME"],
        password=v["HOTLINE_ICCAM_PASSWORD"], country=str(settings.HOTLINE_HOME_COUNTRY).upper(),
        max_results=int(settings.HOTLINE_ICCAM_MAX_RESULTS),
        login_wait=float(settings.HOTLINE_ICCAM_LOGIN_WAIT_SECONDS))


def pull_interval() -> timedelta:
    return timedelta(seconds=int(settings.HOTLINE_ICCAM_PULL_SECONDS))


def lookback() -> timedelta:
    return timedelta(days=int(settings.HOTLINE_ICCAM_LOOKBACK_DAYS))


def send_lease() -> timedelta:
    return timedelta(seconds=int(settings.HOTLINE_ICCAM_SEND_LEASE_SECONDS))


def push_attempts() -> int:
    return int(settings.HOTLINE_ICCAM_PUSH_ATTEMPTS)
