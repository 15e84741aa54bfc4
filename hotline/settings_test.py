"""Settings for the test suite: fixed throw-away keys, fast password hashing."""

import os

os.environ.setdefault("HOTLINE_DEBUG", "false")
os.environ.setdefault("HOTLINE_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("HOTLINE_FIELD_KEYS", "test1:" + "A" * 43)
os.environ.setdefault("HOTLINE_STORE_KEYS", "teststore1:" + "B" * 43)
os.environ.setdefault("HOTLINE_EVIDENCE_SIGNING_KEY", "Q" * 43 + "=")
os.environ.setdefault("HOTLINE_EXCHANGE_SIGNING_KEY", "E" * 43 + "=")
os.environ.setdefault("HOTLINE_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("HOTLINE_SSL_REDIRECT", "false")
os.environ.setdefault("HOTLINE_SCREENSHOTS", "true" if os.path.exists("/usr/bin/chromium") else "false")
os.environ.setdefault("HOTLINE_ICCAM_LOGIN_WAIT_SECONDS", "0")
# Each test's rolled-back transaction can reuse index version numbers: check the version before every look-up
# (the hashes tests set a window of their own to test it).
os.environ.setdefault("HOTLINE_HASH_INDEX_MAX_AGE", "0")

from hotline.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

# Each test process gets its own encrypted store; tests that inspect it use their own tmp_path.
HOTLINE_STORE = {"BACKEND": "filesystem", "ROOT": tempfile.mkdtemp(prefix="hotline-test-store-")}
HOTLINE_REFERRAL_DIR = Path(tempfile.mkdtemp(prefix="hotline-test-referrals-"))

if DATABASES["default"]["ENGINE"] == "hotline.lib.pgbackend":  # noqa: F405
    # A test database is thrown away: its commits need not wait for the disk (each would fsync the WAL, several
    # milliseconds, far more on a busy machine). Crash safety of the product is not what this setting tests:
    # the server stays up, so every committed row is still seen by every other connection at once.
    _options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
    _options["options"] = f"{_options.get('options', '')} -c synchronous_commit=off".strip()
