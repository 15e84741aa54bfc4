"""RedactSecrets keeps API tokens, credentials, key specs and reporter contact data out of log output."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_started
from django.db.models.signals import post_init
from django.test import Client

from hotline.lib.crypto import new_key_spec
from hotline.lib.logredact import REDACTED, RedactSecrets, redact_text
from hotline.reports.models import Report

SECRET_PART = secrets.token_urlsafe(32)  # 43 url-safe characters, as ApiClient.new_token makes them
TOKEN = f"hl_0a1b2c3d_{SECRET_PART}"
EMAIL = "reporter@mail.example"
KEY_SPEC = new_key_spec("k9")
KEY = KEY_SPEC.partition(":")[2]
PASSWORD = "synthetic-Pa55word-" + secrets.token_hex(4)


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.logger = logging.getLogger("hotline.tests.logredact")

    @property
    def text(self) -> str:
        return self.stream.getvalue()


class Spy(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[Captured]:
    """A logger whose only handler writes to a string, with the filter on the handler."""
    out = Captured()
    handler = logging.StreamHandler(out.stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets())
    out.logger.addHandler(handler)
    out.logger.setLevel(logging.DEBUG)
    out.logger.propagate = False
    yield out
    out.logger.removeHandler(handler)
    out.logger.propagate = True


@pytest.mark.parametrize("msg,args,secret,kept", [
    ("client %s failed to authenticate", (TOKEN,), SECRET_PART,
     f"client hl_0a1b2c3d_{REDACTED} failed to authenticate"),
    ("request with Authorization: Bearer %s refused", (TOKEN,), SECRET_PART, "refused"),
    ("headers %s", ({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "HTTP_HOST": "testserver"},), SECRET_PART,
     "'HTTP_HOST': 'testserver'"),
    ("Authorization: Basic %s", ("c3ludGhldGljOnVzZXI6cGFzcw==",), "c3ludGhldGljOnVzZXI6cGFzcw==",
     f"Authorization: Basic {REDACTED}"),
    ("login as %s with password=%s", ("ana", PASSWORD), PASSWORD, f"login as ana with password={REDACTED}"),
    ("login %(user)s with %(password)s", ({"user": "ana", "password": PASSWORD},), PASSWORD, "login ana with"),
    ("client config %s", ({"name": "Partner NL", "api_key": PASSWORD},), PASSWORD, "'name': 'Partner NL'"),
    ("cookies: %s", (f"sessionid={PASSWORD}; csrftoken={PASSWORD}x",), PASSWORD,
     f"cookies: {REDACTED}; csrftoken={REDACTED}"),
    ("fetch of %s failed", (f"http://x.sim.test/a?token={PASSWORD}&page=2",), PASSWORD,
     f"fetch of http://x.sim.test/a?token={REDACTED}&page=2 failed"),
    ("HOTLINE_STORE_KEYS loaded: %s", (KEY_SPEC + ",old:" + new_key_spec("x").partition(":")[2],), KEY,
     f"HOTLINE_STORE_KEYS loaded: k9:{REDACTED},old:{REDACTED}"),
    ("new public report from %s via the form", (EMAIL,), EMAIL, f"new public report from {REDACTED} via the form"),
    ("report %s", ({"reference": "HL-7QK2-M9XD-4TRA", "contact": "+32 470 12 34 56"},), "470 12 34 56",
     "'reference': 'HL-7QK2-M9XD-4TRA'"),
    ('{"email": "%s", "source": "public"}', (EMAIL,), EMAIL, f'{{"email": "{REDACTED}", "source": "public"}}'),
], ids=["api-token", "bearer-header", "header-dict", "basic-auth", "password-pair", "dict-args", "dict-api-key",
        "cookies", "query-token", "key-specs", "email", "phone-contact", "json-email"])
def test_it_removes_each_kind_of_secret_and_keeps_the_rest(
    captured: Captured, msg: str, args: tuple[Any, ...], secret: str, kept: str
) -> None:
    captured.logger.warning(msg, *args)
    assert secret not in captured.text
    assert kept in captured.text
    assert REDACTED in captured.text


def test_secret_named_entries_of_dict_arguments_are_gone_from_the_record_too(captured: Captured) -> None:
    spy = Spy()
    captured.logger.addHandler(spy)
    try:
        captured.logger.info("user %(user)s", {"user": "ana", "password": PASSWORD, "token": TOKEN})
    finally:
        captured.logger.removeHandler(spy)
    [record] = spy.records
    assert record.getMessage() == "user ana"
    assert PASSWORD not in repr(record.__dict__) and SECRET_PART not in repr(record.__dict__)


def test_a_traceback_is_redacted_and_the_exception_object_dropped(captured: Captured) -> None:
    try:
        raise ValueError(f"no client for {TOKEN} (contact {EMAIL})")
    except ValueError:
        captured.logger.exception("capture of item %s failed", 42)
    assert "capture of item 42 failed" in captured.text
    assert "Traceback" in captured.text and "ValueError: no client for hl_0a1b2c3d_" in captured.text
    assert SECRET_PART not in captured.text and EMAIL not in captured.text


def test_stack_info_is_redacted() -> None:
    stack = f'Stack (most recent call last):\n  fetch(headers={{"Authorization": "Bearer {TOKEN}"}})'
    record = logging.LogRecord("hotline", logging.INFO, __file__, 1, "here", (), None, sinfo=stack)
    RedactSecrets().filter(record)
    assert record.stack_info is not None and "Stack (most recent call last)" in record.stack_info
    assert SECRET_PART not in record.stack_info


def test_a_message_without_secrets_keeps_its_template_and_arguments() -> None:
    record = logging.LogRecord("hotline.hashes", logging.INFO, __file__, 1,
                               "PDQ index rebuilt: %d hashes at version %d", (120, 3), None)
    assert RedactSecrets().filter(record) is True
    assert (record.msg, record.args) == ("PDQ index rebuilt: %d hashes at version %d", (120, 3))


def test_running_twice_changes_nothing_more() -> None:
    text = f"Authorization: Bearer {TOKEN}; password={PASSWORD}; {KEY_SPEC}; {EMAIL}"
    once = redact_text(text)
    assert redact_text(once) == once
    assert once == f"Authorization: Bearer hl_0a1b2c3d_{REDACTED}; password={REDACTED}; k9:{REDACTED}; {REDACTED}"


def test_ordinary_words_are_not_redacted() -> None:
    text = "basic checks passed; the bearer of bad news says the token expired; key 'k2' is not configured"
    assert redact_text(text) == text


def test_a_filter_on_a_parent_logger_misses_its_childrens_records_so_it_belongs_on_handlers() -> None:
    """Why settings must attach the filter to handlers, not to the root logger: logging applies a
    logger's filters only to records logged on that very logger, never to those its children propagate."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent = logging.getLogger("hotline.tests.parent")
    parent.addHandler(handler)
    parent.addFilter(RedactSecrets())
    parent.propagate = False
    child = logging.getLogger("hotline.tests.parent.child")
    try:
        child.error("contact %s", EMAIL)
        assert EMAIL in stream.getvalue()
        handler.addFilter(RedactSecrets())
        child.error("contact %s", EMAIL)
        assert stream.getvalue().count(EMAIL) == 1
    finally:
        parent.removeHandler(handler)
        parent.filters.clear()
        parent.propagate = True


@pytest.mark.django_db
def test_no_token_or_contact_reaches_the_log_in_real_requests(caplog: pytest.LogCaptureFixture) -> None:
    """A failed API call and a public report with a contact e-mail, through the whole Django stack,
    with careless debug logging of request headers and of each report object made."""
    careless = logging.getLogger("hotline.tests.careless")

    def log_headers(sender: object, environ: dict[str, Any], **kwargs: object) -> None:
        careless.debug("request headers %s", {k: v for k, v in environ.items() if k.startswith("HTTP_")})

    def log_report(sender: object, instance: Report, **kwargs: object) -> None:
        careless.debug("report %s", {"reference": instance.reference, "text": instance.text,
                                     "reporter_contact": instance.reporter_contact})

    root = logging.getLogger()
    filters = [RedactSecrets(), RedactSecrets()]
    root.addFilter(filters[0])  # covers records logged on the root logger itself
    caplog.handler.addFilter(filters[1])  # covers every record that reaches the handler
    request_started.connect(log_headers, dispatch_uid="test-logredact-headers")
    post_init.connect(log_report, sender=Report, dispatch_uid="test-logredact-report")
    try:
        with caplog.at_level(logging.DEBUG):
            refused = Client().post("/api/v1/submissions", json.dumps({"submission_id": "s1", "reports": []}),
                                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
            stored = Client().post("/report/", {"urls": "http://logs.sim.test/a", "contact": EMAIL,
                                                "description": f"please write to {EMAIL}"})
            Report.objects.get()  # intake may write rows without model instances: load one to log it
    finally:
        request_started.disconnect(dispatch_uid="test-logredact-headers")
        post_init.disconnect(sender=Report, dispatch_uid="test-logredact-report")
        root.removeFilter(filters[0])
        caplog.handler.removeFilter(filters[1])
    assert refused.status_code == 401 and stored.status_code == 200
    assert Report.objects.get().reporter_contact == EMAIL
    assert "Unauthorized: /api/v1/submissions" in caplog.text
    assert "request headers" in caplog.text and "'HTTP_AUTHORIZATION': '[redacted]'" in caplog.text
    assert "report {'reference': 'HL-" in caplog.text and "please write to [redacted]" in caplog.text
    assert SECRET_PART not in caplog.text and EMAIL not in caplog.text
    assert all(SECRET_PART not in r.getMessage() and EMAIL not in r.getMessage() for r in caplog.records)


def _unprotected_handlers() -> list[str]:
    found = []
    for name in ("", "django", "django.request", "django.server", "hotline"):
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if type(handler).__module__.startswith("_pytest"):
                continue
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                found.append(f"{name or 'root'}: {handler!r}")
    return found


def test_every_handler_configured_by_the_settings_redacts() -> None:
    assert _unprotected_handlers() == []
