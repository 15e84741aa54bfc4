"""System checks for the ICCAM connector: all of its settings or none, and files that can be used."""

from __future__ import annotations

import os
import ssl
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register

from hotline.iccam import conf


@register(Tags.compatibility)
def iccam_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """iccam.E001: a partial set; iccam.E002: a base URL that is not https or lacks its final "/";
    iccam.E003: a certificate, key or CA file that cannot be read, or a key the passphrase does not open."""
    values = conf.values()
    missing = [name for name, value in values.items() if not value]
    if len(missing) == len(values):
        return []  # the connector is off
    if missing:
        return [Error(f"The ICCAM connector is half configured: {', '.join(missing)} missing.",
                      hint="Set every HOTLINE_ICCAM_* setting (secrets may come from *_FILE), or none to switch "
                           "the connector off.", id="iccam.E001")]
    url = values["HOTLINE_ICCAM_BASE_URL"]
    if not url.startswith("https://") or not url.endswith("/"):
        return [Error(f"HOTLINE_ICCAM_BASE_URL={url!r} must be an https:// URL ending with '/'.", id="iccam.E002")]
    return _files(values)


def _files(values: dict[str, str]) -> list[CheckMessage]:
    for name in ("HOTLINE_ICCAM_CLIENT_CERT", "HOTLINE_ICCAM_CLIENT_KEY", "HOTLINE_ICCAM_CA_BUNDLE"):
        if not os.access(values[name], os.R_OK):
            return [Error(f"{name}={values[name]!r} cannot be read.", id="iccam.E003")]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(values["HOTLINE_ICCAM_CA_BUNDLE"])
        context.load_cert_chain(values["HOTLINE_ICCAM_CLIENT_CERT"], values["HOTLINE_ICCAM_CLIENT_KEY"],
                                password=values["HOTLINE_ICCAM_CLIENT_KEY_PASSWORD"])
    except (ssl.SSLError, OSError) as exc:
        return [Error(f"The ICCAM certificate, key or CA bundle cannot be used: {exc}.",
                      hint="Check that the key belongs to the certificate and the passphrase opens it.",
                      id="iccam.E003")]
    return []
