"""Mutual TLS, login and answer classification against the simulated ICCAM on loopback."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hotline.iccam import conf
from hotline.iccam.checks import iccam_settings
from hotline.iccam.client import IccamError, IccamSession, kept_session
from hotline.lib.http import FetchError, OutboundClient, outbound_policy
from hotline.sim.iccam import SimIccam


def _session() -> IccamSession:
    config = conf.config()
    assert config is not None
    return IccamSession(config)


def test_it_logs_in_and_reads_the_reference_codes_over_mutual_tls(iccam_on: SimIccam) -> None:
    with _session() as session:
        codes = session.get("rest/classifications")
    assert {"id": 1, "name": "Baseline CSAM"} in codes
    assert iccam_on.calls["POST Authentication"] == 1


def test_the_kept_session_logs_in_once_across_steps_and_again_after_a_failure(iccam_on: SimIccam) -> None:
    config = conf.config()
    assert config is not None
    for _step in range(3):  # three worker steps, one after the other in one thread
        with kept_session(config) as session:
            session.get("rest/classifications")
    assert iccam_on.calls["POST Authentication"] == 1
    with pytest.raises(RuntimeError), kept_session(config) as session:
        raise RuntimeError("a step failed half-way")
    with kept_session(config) as fresh:
        fresh.get("rest/classifications")
    assert fresh is not session and iccam_on.calls["POST Authentication"] == 2


def test_a_kept_session_logs_in_again_when_its_token_is_refused(iccam_on: SimIccam) -> None:
    config = conf.config()
    assert config is not None
    with kept_session(config) as session:
        session.get("rest/classifications")
    session._token = "expired"  # as ICCAM forgets a token after its lifetime
    with kept_session(config) as again:
        assert again.get("rest/classifications")
    assert iccam_on.calls["POST Authentication"] == 2


def test_it_cannot_connect_without_the_client_certificate(iccam_on: SimIccam) -> None:
    config = conf.config()
    assert config is not None
    policy = dataclasses.replace(outbound_policy(timeout=5), ca_bundle=config.ca_bundle)
    with OutboundClient(policy) as client, pytest.raises(FetchError):
        client.request("POST", config.base_url + "Authentication", content=b"{}")
    assert iccam_on.calls["POST Authentication"] == 0


def test_it_refuses_a_server_outside_the_configured_ca(iccam_on: SimIccam, settings: Any) -> None:
    with SimIccam() as other:
        settings.HOTLINE_ICCAM_BASE_URL = other.base_url
        with _session() as session, pytest.raises(IccamError) as caught:
            session.get("rest/classifications")
    assert "tls" in str(caught.value).lower()
    assert other.calls["POST Authentication"] == 0


def test_a_wrong_password_is_a_retryable_login_failure(iccam_on: SimIccam, settings: Any) -> None:
    settings.HOTLINE_ICCAM_PASSWORD = "wrong"
    with _session() as session, pytest.raises(IccamError) as caught:
        session.get("rest/classifications")
    assert caught.value.status == 401 and caught.value.retry


def test_a_429_carries_retry_after(iccam_on: SimIccam) -> None:
    with _session() as session:
        session.login()
        iccam_on.throttle(1, retry_after=7)
        with pytest.raises(IccamError) as caught:
            session.get("rest/classifications")
    assert (caught.value.status, caught.value.retry, caught.value.retry_after) == (429, True, 7)


def test_a_refusal_is_final_and_names_icca_ms_reason(iccam_on: SimIccam) -> None:
    report = iccam_on.add_report(["http://site-1.sim.test/a.png"], assigned_country="NL")
    content = iccam_on.reports[report]["reportContents"][0]["contentId"]
    with _session() as session, pytest.raises(IccamError) as caught:
        session.put(f"rest/Content/{content}/assessment", {"classification": 1})
    assert caught.value.refused and not caught.value.retry
    assert "assigned to another country" in str(caught.value)


def test_the_check_is_quiet_when_off_and_refuses_a_partial_set(settings: Any) -> None:
    for name in conf.FIELDS:
        setattr(settings, name, "")
    assert iccam_settings() == []
    settings.HOTLINE_ICCAM_BASE_URL = "https://iccam.example.test/api/"
    errors = iccam_settings()
    assert [e.id for e in errors] == ["iccam.E001"]
    assert "HOTLINE_ICCAM_PASSWORD" in errors[0].msg


def test_the_check_accepts_a_complete_set_and_refuses_a_wrong_passphrase(iccam_on: SimIccam, settings: Any) -> None:
    assert iccam_settings() == []
    settings.HOTLINE_ICCAM_CLIENT_KEY_PASSWORD = "not-the-passphrase"
    assert [e.id for e in iccam_settings()] == ["iccam.E003"]
    settings.HOTLINE_ICCAM_CLIENT_KEY_PASSWORD = iccam_on.pki.key_password if iccam_on.pki else ""
    settings.HOTLINE_ICCAM_BASE_URL = "http://127.0.0.1/api"
    assert [e.id for e in iccam_settings()] == ["iccam.E002"]
