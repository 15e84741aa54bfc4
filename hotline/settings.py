"""Django settings, read from the environment; unsafe or malformed values stop start-up."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from hotline.lib import env
from hotline.lib.crypto import new_key_spec

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.text("HOTLINE_VAR_DIR") or BASE_DIR / "var")

DEBUG = env.boolean("HOTLINE_DEBUG", False)


def _dev_secrets() -> dict[str, str]:
    """Development-only secrets kept in var/dev-secrets.json (never used when DEBUG is off)."""
    path = VAR_DIR / "dev-secrets.json"
    values: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    wanted: dict[str, Callable[[], str]] = {
        "secret_key": lambda: secrets.token_urlsafe(50),
        "field_keys": lambda: new_key_spec("dev1"),
        "store_keys": lambda: new_key_spec("devstore1"),
        "signing_key": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    missing = {name: make() for name, make in wanted.items() if name not in values}
    if missing:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        values |= missing
        path.write_text(json.dumps(values), encoding="utf-8")
        path.chmod(0o600)
    return values


def _secret(name: str, dev_key: str) -> str:
    value = env.text(name)
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set when HOTLINE_DEBUG is off.")
    return _dev_secrets()[dev_key]


SECRET_KEY = _secret("HOTLINE_SECRET_KEY", "secret_key")
HOTLINE_FIELD_KEYS = _secret("HOTLINE_FIELD_KEYS", "field_keys")
HOTLINE_STORE_KEYS = _secret("HOTLINE_STORE_KEYS", "store_keys")
HOTLINE_EVIDENCE_SIGNING_KEY = _secret("HOTLINE_EVIDENCE_SIGNING_KEY", "signing_key")
HOTLINE_EVIDENCE_TRUSTED_KEYS = env.csv_list("HOTLINE_EVIDENCE_TRUSTED_KEYS", [])

ALLOWED_HOSTS = env.csv_list("HOTLINE_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("HOTLINE_ALLOWED_HOSTS must list the host names the site answers to.")
CSRF_TRUSTED_ORIGINS = env.csv_list("HOTLINE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "hotline.core",
    "hotline.accounts",
    "hotline.audit",
    "hotline.reports",
    "hotline.assessment",
    "hotline.evidence",
    "hotline.hashes",
    "hotline.tracing",
    "hotline.partners",
    "hotline.routing",
    "hotline.takedown",
    "hotline.mailintake",
    "hotline.cases",
    "hotline.retention",
    "hotline.stats",
    "hotline.selfreferral",
    "hotline.iccam",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hotline.accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "hotline.core.middleware.StyledNotFoundMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "hotline.core.middleware.SecurityHeadersMiddleware",
    # Innermost, so its answer still gets every header above; nothing above reads the body.
    "hotline.core.middleware.BodySizeLimitMiddleware",
]

ROOT_URLCONF = "hotline.urls"
WSGI_APPLICATION = "hotline.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "hotline" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hotline.core.context_processors.language_links",
                "hotline.core.navigation.staff_menu",
            ],
        },
    },
]

DATABASE_URL = env.text("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'hotline.sqlite3'}"
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env.integer("HOTLINE_DB_CONN_MAX_AGE", 60))
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
if _db["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        # WAL lets the web server read while a worker writes; IMMEDIATE avoids upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["ENGINE"] = "hotline.lib.pgbackend"  # Django's, with a leaner cursor execute (hotline/lib/pgbackend)
    _db.setdefault("TEST", {})
else:
    raise ImproperlyConfigured(f"DATABASE_URL engine {_db['ENGINE']} is not supported (sqlite, postgres).")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        # Shared by every web and worker process. Rate limits do not use it (hotline.lib.ratelimit).
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "hotline_cache",
    }
}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "hotline" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Sessions end after this much idle time: every request pushes the expiry forward.
SESSION_COOKIE_AGE = env.integer("HOTLINE_SESSION_IDLE_SECONDS", 30 * 60, minimum=300)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_HSTS_SECONDS = env.integer("HOTLINE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = env.boolean("HOTLINE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Public form and API limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("HOTLINE_MAX_BODY_BYTES", 20 * 1024 * 1024, minimum=1024)
HOTLINE_MAX_URLS_PER_PUBLIC_REPORT = env.integer("HOTLINE_MAX_URLS_PER_PUBLIC_REPORT", 20, minimum=1)
HOTLINE_MAX_URLS_PER_SUBMISSION = env.integer("HOTLINE_MAX_URLS_PER_SUBMISSION", 10000, minimum=1)
# Audit trail (docs/audit.md): concurrent writers each take one of this many hash chains; the worker
# seals all chain heads into one chain of seals at most this often.
HOTLINE_AUDIT_STREAMS = env.integer("HOTLINE_AUDIT_STREAMS", 16, minimum=1)
HOTLINE_AUDIT_SEAL_SECONDS = env.integer("HOTLINE_AUDIT_SEAL_SECONDS", 30, minimum=1)
# Each seal's hash appended here once committed (hotline.audit.anchor; empty: only logged): a file the database's
# owner cannot rewrite; `hotline audit verify` checks the seals against it.
HOTLINE_AUDIT_ANCHOR_FILE = env.text("HOTLINE_AUDIT_ANCHOR_FILE", "") or ""


def _rate(name: str, default: str) -> str:
    """A rate like ``10/h``; a malformed one stops start-up instead of the first limited request."""
    from hotline.lib.ratelimit import parse_rate

    value = env.text(name, default) or default
    try:
        parse_rate(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
    return value


HOTLINE_PUBLIC_RATE = _rate("HOTLINE_PUBLIC_RATE", "10/h")
# Reports without a URL (docs/reports-without-url.md): the helplines shown at once, up to how many
# screenshots of what size a reporter may attach.
try:
    from hotline.lib.support import parse as _parse_support

    _parse_support(env.text("HOTLINE_SUPPORT_CONTACTS", "") or "")
except ValueError as _exc:
    raise ImproperlyConfigured(f"HOTLINE_SUPPORT_CONTACTS: {_exc}") from _exc
HOTLINE_SUPPORT_CONTACTS = env.text("HOTLINE_SUPPORT_CONTACTS", "") or ""
HOTLINE_INCIDENT_MAX_SCREENSHOTS = env.integer("HOTLINE_INCIDENT_MAX_SCREENSHOTS", 5, minimum=0)
HOTLINE_INCIDENT_MAX_SCREENSHOT_BYTES = env.integer("HOTLINE_INCIDENT_MAX_SCREENSHOT_BYTES", 5 * 1024 * 1024,
                                                    minimum=1024)
HOTLINE_STATUS_RATE = _rate("HOTLINE_STATUS_RATE", "60/h")
HOTLINE_API_RATE = _rate("HOTLINE_API_RATE", "600/m")
HOTLINE_LOGIN_RATE = _rate("HOTLINE_LOGIN_RATE", "20/h")
# Rate-limit counters in Redis (redis://host:6379/0, rediss://..., unix:///path) instead of the
# database table; if Redis fails, the database counts until it answers again. Empty = database.
HOTLINE_RATELIMIT_REDIS_URL = env.text("HOTLINE_RATELIMIT_REDIS_URL", "") or ""
if HOTLINE_RATELIMIT_REDIS_URL:
    from hotline.lib.ratelimit import check_redis_url as _check_redis_url

    try:
        _check_redis_url(HOTLINE_RATELIMIT_REDIS_URL)
    except ValueError as exc:
        raise ImproperlyConfigured(f"HOTLINE_RATELIMIT_REDIS_URL {exc}.") from exc
HOTLINE_TRUSTED_PROXY_COUNT = env.integer("HOTLINE_TRUSTED_PROXY_COUNT", 0, minimum=0)

# Analyst workflow.
HOTLINE_CLAIM_MINUTES = env.integer("HOTLINE_CLAIM_MINUTES", 30, minimum=1)
HOTLINE_HOME_COUNTRY = env.text("HOTLINE_HOME_COUNTRY", "BE") or "BE"
# --- routing ---
# Evidence-preservation hold before a domestic provider is notified (the police can release or extend it).
HOTLINE_POLICE_HOLD_HOURS = env.integer("HOTLINE_POLICE_HOLD_HOURS", 48, minimum=0)
# Abroad without a partner hotline: also notify the provider directly (besides the international police channel).
HOTLINE_DIRECT_NOTICE_ABROAD = env.boolean("HOTLINE_DIRECT_NOTICE_ABROAD", False)
# other_harm items never take the CSAM route: police | notice | police_and_notice | none.
HOTLINE_OTHER_HARM_ROUTE = env.choice("HOTLINE_OTHER_HARM_ROUTE", ["police", "notice", "police_and_notice", "none"],
                                      "police")
HOTLINE_REFERRAL_DIR = Path(env.text("HOTLINE_REFERRAL_DIR") or VAR_DIR / "referrals")
HOTLINE_REFERRAL_ATTEMPTS = env.integer("HOTLINE_REFERRAL_ATTEMPTS", 8, minimum=1)
HOTLINE_ORGANISATION = env.text("HOTLINE_ORGANISATION", "Hotline") or "Hotline"
HOTLINE_POLICE_RECIPIENT_KEY = env.text("HOTLINE_POLICE_RECIPIENT_KEY") or ""  # X25519 public key, base64
# Domain part of the Message-IDs of outbound mail (notices, referrals): stable ids make resends recognisable.
HOTLINE_MESSAGE_DOMAIN = env.text("HOTLINE_MESSAGE_DOMAIN", "hotline.invalid") or "hotline.invalid"

# --- outbound e-mail (notices, police referrals) ---
EMAIL_BACKEND = env.text("HOTLINE_EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env.text("HOTLINE_SMTP_HOST", "127.0.0.1") or "127.0.0.1"
EMAIL_PORT = env.integer("HOTLINE_SMTP_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.text("HOTLINE_SMTP_USER", "") or ""
EMAIL_HOST_PASSWORD = env.text("HOTLINE_SMTP_PASSWORD", "") or ""
EMAIL_USE_TLS = env.boolean("HOTLINE_SMTP_STARTTLS", False)
EMAIL_USE_SSL = env.boolean("HOTLINE_SMTP_TLS", False)
EMAIL_TIMEOUT = env.integer("HOTLINE_SMTP_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env.text("HOTLINE_FROM_EMAIL", "hotline@hotline.invalid") or "hotline@hotline.invalid"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Secrets never reach a log: the filter sits on the handlers, which every record passes through.
    "filters": {"redact": {"()": "hotline.lib.logredact.RedactSecrets"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.text("HOTLINE_LOG_LEVEL", "INFO") or "INFO"},
    "loggers": {  # Django's own default handlers do not redact: route its loggers through the root's
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "bagit": {"handlers": [], "level": "WARNING", "propagate": True},  # a line per file of every package
    },
}

# Evidence: the encrypted content store and capture.
HOTLINE_STORE = {"BACKEND": env.text("HOTLINE_STORE_BACKEND", "filesystem"),
                 "ROOT": env.text("HOTLINE_STORE_ROOT") or str(VAR_DIR / "store")}
HOTLINE_CAPTURE_ATTEMPTS = env.integer("HOTLINE_CAPTURE_ATTEMPTS", 3, minimum=1)
HOTLINE_CAPTURE_MAX_MEDIA = env.integer("HOTLINE_CAPTURE_MAX_MEDIA", 100, minimum=1)
# Screenshots of captured pages, rendered from the WARC in headless Chromium with no network
# (docs/evidence.md). Off unless HOTLINE_SCREENSHOTS is true and a browser is configured.
HOTLINE_SCREENSHOTS = env.boolean("HOTLINE_SCREENSHOTS", False)
HOTLINE_BROWSER = env.text("HOTLINE_BROWSER") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else "")
HOTLINE_FETCH_USER_AGENT = env.text(
    "HOTLINE_FETCH_USER_AGENT", "HotlineCapture/0.1 (+automated URL check by an internet hotline)")
# Simulation only (tests and the demo): fetch from loopback and map host names to it.
# The system check hotline.E001 refuses both when DEBUG is off.
HOTLINE_FETCH_ALLOW_LOOPBACK = env.boolean("HOTLINE_FETCH_ALLOW_LOOPBACK", False)
try:
    HOTLINE_SIM_HOSTS: dict[str, str] = json.loads(env.text("HOTLINE_SIM_HOSTS") or "{}")
    HOTLINE_SIM_PORTS: dict[str, int] = json.loads(env.text("HOTLINE_SIM_PORTS") or "{}")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"HOTLINE_SIM_HOSTS / HOTLINE_SIM_PORTS is not a JSON object: {exc}") from exc

# Ports a staff-configured outbound endpoint (police HTTP, provider API, partner hotline) may use.
try:
    HOTLINE_OUTBOUND_ALLOWED_PORTS = [int(p) for p in env.csv_list(
        "HOTLINE_OUTBOUND_ALLOWED_PORTS", ["80", "443", "8080", "8443"])]
except ValueError as exc:
    raise ImproperlyConfigured(f"HOTLINE_OUTBOUND_ALLOWED_PORTS is not a list of ports: {exc}") from exc

# Analyst welfare (DOMAIN.md §2): daily viewing budget and breaks.
HOTLINE_VIEWING_BUDGET_MINUTES = env.integer("HOTLINE_VIEWING_BUDGET_MINUTES", 120, minimum=1)
HOTLINE_BREAK_AFTER_MINUTES = env.integer("HOTLINE_BREAK_AFTER_MINUTES", 50, minimum=1)
HOTLINE_BREAK_MINUTES = env.integer("HOTLINE_BREAK_MINUTES", 10, minimum=1)

# Background steps run by `hotline worker`; each is a function returning whether it found work.
# Where the annual reports made from the statistics page are kept (docs/statistics.md).
HOTLINE_REPORTS_DIR = env.text("HOTLINE_REPORTS_DIR") or str(VAR_DIR / "reports")

HOTLINE_WORKER_STEPS = [
    "hotline.assessment.steps.expire_claims_step",
    "hotline.evidence.steps.capture_step",
    "hotline.evidence.steps.screenshot_step",
    "hotline.hashes.steps.match_step",
    "hotline.selfreferral.steps.scan_step",
    "hotline.assessment.steps.inherit_known_step",
    "hotline.tracing.steps.trace_step",
    "hotline.routing.steps.routing_step",
    "hotline.routing.steps.referral_step",
    "hotline.takedown.steps.notice_step",
    "hotline.takedown.steps.liveness_step",
    "hotline.takedown.steps.bounce_step",
    "hotline.takedown.steps.escalation_step",
    "hotline.takedown.steps.inforequest_step",
    "hotline.mailintake.steps.mail_step",
    "hotline.partners.steps.verdict_status_step",
    "hotline.partners.steps.exchange_step",
    "hotline.iccam.steps.pull_step",
    "hotline.iccam.steps.push_step",
    "hotline.retention.steps.retention_step",
    "hotline.stats.steps.refresh_step",
    "hotline.lib.steps.tasks_step",  # one-off jobs (django-tasks): the annual report's PDF
    "hotline.lib.steps.ratelimit_purge_step",
    "hotline.audit.steps.seal_step",
]

# --- partners ---
# Hotline-to-hotline exchange (docs/exchange.md): our code as partners know us, and our Ed25519 key
# (base64 of the 32-byte seed, `hotline partners keygen`). With DEBUG on and no key, one derived from
# SECRET_KEY keeps the demo working.
from hotline.lib import signing as _signing  # noqa: E402

HOTLINE_EXCHANGE_CODE = env.text("HOTLINE_EXCHANGE_CODE") or f"{HOTLINE_HOME_COUNTRY.lower()}-hotline"
if not (set(HOTLINE_EXCHANGE_CODE) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
        and not HOTLINE_EXCHANGE_CODE.startswith("-") and len(HOTLINE_EXCHANGE_CODE) <= 40):
    raise ImproperlyConfigured("HOTLINE_EXCHANGE_CODE must be lower-case letters, digits and '-' (at most 40).")
HOTLINE_EXCHANGE_SIGNING_KEY = env.text("HOTLINE_EXCHANGE_SIGNING_KEY") or (
    _signing.derived_private_b64(SECRET_KEY, "exchange-dev") if DEBUG else "")
try:
    if HOTLINE_EXCHANGE_SIGNING_KEY:
        _signing.private_key(HOTLINE_EXCHANGE_SIGNING_KEY)
except ValueError as exc:
    raise ImproperlyConfigured(f"HOTLINE_EXCHANGE_SIGNING_KEY: {exc}") from exc
HOTLINE_EXCHANGE_CLOCK_SKEW_SECONDS = env.integer("HOTLINE_EXCHANGE_CLOCK_SKEW_SECONDS", 300, minimum=10)
HOTLINE_EXCHANGE_MAX_BYTES = env.integer("HOTLINE_EXCHANGE_MAX_BYTES", 1024 * 1024, minimum=4096)
HOTLINE_EXCHANGE_RATE = _rate("HOTLINE_EXCHANGE_RATE", "1200/m")
HOTLINE_EXCHANGE_TIMEOUT_SECONDS = env.integer("HOTLINE_EXCHANGE_TIMEOUT_SECONDS", 10, minimum=1)
HOTLINE_EXCHANGE_MAX_ATTEMPTS = env.integer("HOTLINE_EXCHANGE_MAX_ATTEMPTS", 30, minimum=1)
HOTLINE_EXCHANGE_RETRY_BASE_SECONDS = env.integer("HOTLINE_EXCHANGE_RETRY_BASE_SECONDS", 30, minimum=1)
HOTLINE_EXCHANGE_RETRY_MAX_SECONDS = env.integer("HOTLINE_EXCHANGE_RETRY_MAX_SECONDS", 21600, minimum=1)
HOTLINE_EXCHANGE_CONCURRENCY = env.integer("HOTLINE_EXCHANGE_CONCURRENCY", 4, minimum=1)

# --- takedown ---
# Notice-and-takedown (docs/takedown.md). Batching window before a first notice; repeats follow each
# abuse contact's own repeat_hours.
HOTLINE_TAKEDOWN_BATCH_MINUTES = env.integer("HOTLINE_TAKEDOWN_BATCH_MINUTES", 60, minimum=0)
HOTLINE_TAKEDOWN_SEND_LEASE_SECONDS = env.integer("HOTLINE_TAKEDOWN_SEND_LEASE_SECONDS", 600, minimum=1)
HOTLINE_TAKEDOWN_SEND_ATTEMPTS = env.integer("HOTLINE_TAKEDOWN_SEND_ATTEMPTS", 8, minimum=1)
HOTLINE_TAKEDOWN_API_TIMEOUT = env.integer("HOTLINE_TAKEDOWN_API_TIMEOUT", 20, minimum=1)
# Provider links (acknowledge / confirm removal) are signed and expire after this many days.
HOTLINE_TAKEDOWN_LINK_DAYS = env.integer("HOTLINE_TAKEDOWN_LINK_DAYS", 30, minimum=1)
HOTLINE_PUBLIC_URL = (env.text("HOTLINE_PUBLIC_URL", "http://127.0.0.1:8000") or "").rstrip("/")
HOTLINE_TAKEDOWN_LEGAL_BASIS = env.text("HOTLINE_TAKEDOWN_LEGAL_BASIS") or (
    "Belgian Criminal Code, arts. 417/43-417/48; Directive 2011/93/EU, art. 25")
HOTLINE_TAKEDOWN_REPORTER_DOMAIN = env.text("HOTLINE_TAKEDOWN_REPORTER_DOMAIN") or HOTLINE_MESSAGE_DOMAIN
# Liveness: N consecutive misses at least this far apart confirm a removal; the check rhythm by the age
# of the last notice ([[up to hours, every minutes], ...], null = from then on); watch after removal.
HOTLINE_TAKEDOWN_MISSES = env.integer("HOTLINE_TAKEDOWN_MISSES", 3, minimum=1)
HOTLINE_TAKEDOWN_MISS_INTERVAL_MINUTES = env.integer("HOTLINE_TAKEDOWN_MISS_INTERVAL_MINUTES", 30, minimum=0)
HOTLINE_TAKEDOWN_CHECK_SCHEDULE = env.text("HOTLINE_TAKEDOWN_CHECK_SCHEDULE") or "[[1, 15], [24, 60], [null, 1440]]"
HOTLINE_TAKEDOWN_WATCH_DAYS = env.integer("HOTLINE_TAKEDOWN_WATCH_DAYS", 90, minimum=0)
HOTLINE_TAKEDOWN_CHECK_CONCURRENCY = env.integer("HOTLINE_TAKEDOWN_CHECK_CONCURRENCY", 32, minimum=1)
HOTLINE_TAKEDOWN_CHECK_PER_HOST = env.integer("HOTLINE_TAKEDOWN_CHECK_PER_HOST", 2, minimum=1)
HOTLINE_TAKEDOWN_CHECK_BATCH = env.integer("HOTLINE_TAKEDOWN_CHECK_BATCH", 500, minimum=1)
# Escalation ladder, JSON: rungs applied in order, e.g. after 2 repeats notify the upstream network,
# registrar and site owner; after 7 days flag the item to the police and the managers.
HOTLINE_TAKEDOWN_ESCALATION = env.text("HOTLINE_TAKEDOWN_ESCALATION") or (
    '[{"after_repeats": 2, "notify": ["upstream", "registrar", "site_owner"]},'
    ' {"after_days": 7, "flag": ["police", "managers"]}]')
# Bounces and delivery reports (docs/takedown.md): the envelope sender of e-mail notices, where the MTAs
# send their DSNs (empty = the From address, as for every other mail), and the mailbox those arrive in
# (the URL forms of HOTLINE_MAIL_INTAKE_URL; empty = not read), read on the mail intake's interval.
HOTLINE_TAKEDOWN_BOUNCE_ADDRESS = env.text("HOTLINE_TAKEDOWN_BOUNCE_ADDRESS", "") or ""
HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL = env.text("HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_URL", "") or ""
HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD = env.text("HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_PASSWORD", "") or ""
HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_CA_FILE = env.text("HOTLINE_TAKEDOWN_BOUNCE_MAILBOX_CA_FILE", "") or ""
# Information requests: default reminder rhythm, escalation and give-up after the deadline.
HOTLINE_INFOREQUEST_DEADLINE_DAYS = env.integer("HOTLINE_INFOREQUEST_DEADLINE_DAYS", 14, minimum=1)
HOTLINE_INFOREQUEST_REMINDER_HOURS = env.integer("HOTLINE_INFOREQUEST_REMINDER_HOURS", 72, minimum=1)
HOTLINE_INFOREQUEST_ESCALATE_DAYS = env.integer("HOTLINE_INFOREQUEST_ESCALATE_DAYS", 7, minimum=0)
HOTLINE_INFOREQUEST_GIVE_UP_DAYS = env.integer("HOTLINE_INFOREQUEST_GIVE_UP_DAYS", 30, minimum=1)

# --- accounts ---
# Sign-in hardening (docs/accounts.md): TOTP second factor for everyone, lockout per account after
# N failed attempts (password or code) within a window, re-authentication before sensitive actions.
AUTHENTICATION_BACKENDS = ["hotline.accounts.backends.LockoutBackend"]
HOTLINE_TOTP_ISSUER = env.text("HOTLINE_TOTP_ISSUER", "Hotline") or "Hotline"
HOTLINE_LOCKOUT_ATTEMPTS = env.integer("HOTLINE_LOCKOUT_ATTEMPTS", 5, minimum=1)
HOTLINE_LOCKOUT_WINDOW_SECONDS = env.integer("HOTLINE_LOCKOUT_WINDOW_SECONDS", 15 * 60, minimum=1)
HOTLINE_LOCKOUT_SECONDS = env.integer("HOTLINE_LOCKOUT_SECONDS", 15 * 60, minimum=1)
HOTLINE_REAUTH_MAX_AGE_SECONDS = env.integer("HOTLINE_REAUTH_MAX_AGE_SECONDS", 10 * 60, minimum=30)

# --- mailintake ---
# E-mail intake (docs/mail-intake.md): maildir:///path, imaps://user@host:993/INBOX, imap://… (STARTTLS)
# or imap+plain://… (loopback only); empty = off. Only Authentication-Results headers with our own
# MTA's authserv-id count as sender authentication.
HOTLINE_MAIL_INTAKE_URL = env.text("HOTLINE_MAIL_INTAKE_URL", "") or ""
HOTLINE_MAIL_INTAKE_PASSWORD = env.text("HOTLINE_MAIL_INTAKE_PASSWORD", "") or ""
HOTLINE_MAIL_INTAKE_CA_FILE = env.text("HOTLINE_MAIL_INTAKE_CA_FILE", "") or ""
HOTLINE_MAIL_AUTHSERV_ID = env.text("HOTLINE_MAIL_AUTHSERV_ID", "") or ""
HOTLINE_MAIL_INTAKE_INTERVAL = env.integer("HOTLINE_MAIL_INTAKE_INTERVAL", 60, minimum=1)
HOTLINE_MAIL_INTAKE_BATCH = env.integer("HOTLINE_MAIL_INTAKE_BATCH", 50, minimum=1)
HOTLINE_MAIL_INTAKE_TIMEOUT = env.integer("HOTLINE_MAIL_INTAKE_TIMEOUT", 30, minimum=1)
HOTLINE_MAIL_INTAKE_MAX_BYTES = env.integer("HOTLINE_MAIL_INTAKE_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)

# --- cases ---
# Case files and police outcomes (docs/cases.md): the largest outcome CSV accepted (upload and command).
HOTLINE_CASES_IMPORT_MAX_BYTES = env.integer("HOTLINE_CASES_IMPORT_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)

# --- tracing ---
# Hosting trace (docs/tracing.md): DNS resolvers ("ip[:port], ..."; empty = the system's), the DNS
# time limit in seconds, the RDAP server override (tests/demo: the simulated one) and cache TTL,
# the geolocation sources, and which verdicts get traced.
HOTLINE_DNS_RESOLVERS = env.text("HOTLINE_DNS_RESOLVERS", "") or ""
try:
    from hotline.lib.dnsresolve import parse_resolvers as _parse_resolvers

    _parse_resolvers(HOTLINE_DNS_RESOLVERS)
    HOTLINE_DNS_TIMEOUT = float(env.text("HOTLINE_DNS_TIMEOUT", "4") or "4")
    HOTLINE_RDAP_TIMEOUT = float(env.text("HOTLINE_RDAP_TIMEOUT", "10") or "10")
    if not (HOTLINE_DNS_TIMEOUT > 0 and HOTLINE_RDAP_TIMEOUT > 0):
        raise ValueError("time limits must be positive")
except ValueError as exc:
    raise ImproperlyConfigured(f"HOTLINE_DNS_RESOLVERS / HOTLINE_DNS_TIMEOUT / HOTLINE_RDAP_TIMEOUT: {exc}") from exc
HOTLINE_RDAP_BASE_URL = env.text("HOTLINE_RDAP_BASE_URL", "") or ""
HOTLINE_RDAP_CACHE_HOURS = env.integer("HOTLINE_RDAP_CACHE_HOURS", 24, minimum=0)
HOTLINE_GEO_SOURCES = env.csv_list("HOTLINE_GEO_SOURCES", ["iptocc", "geoip2fast"])
HOTLINE_TRACE_VERDICTS = env.csv_list("HOTLINE_TRACE_VERDICTS", ["baseline", "national", "other_harm"])
HOTLINE_TRACE_ATTEMPTS = env.integer("HOTLINE_TRACE_ATTEMPTS", 5, minimum=1)
HOTLINE_TRACE_MAX_ADDRESSES = env.integer("HOTLINE_TRACE_MAX_ADDRESSES", 8, minimum=1)

# --- retention ---
# Retention per data class (docs/retention.md), JSON such as {"media": "90d", "trace_snapshots": "12w",
# "notices": "forever"}; unlisted classes keep their defaults. Unknown classes and malformed durations
# raise ImproperlyConfigured naming the class (system check retention.E001 at start-up).
try:
    HOTLINE_RETENTION: dict[str, object] = json.loads(env.text("HOTLINE_RETENTION") or "{}")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"HOTLINE_RETENTION is not a JSON object: {exc}") from exc
HOTLINE_RETENTION_BATCH = env.integer("HOTLINE_RETENTION_BATCH", 500, minimum=1)

# --- stats ---
# Statistics (docs/statistics.md): published cells counting fewer than HOTLINE_STATS_MIN_CELL are shown
# as "<N"; item facts older than HOTLINE_STATS_MAX_AGE_MINUTES are recomputed by the worker, at most
# HOTLINE_STATS_BATCH items per step, pausing HOTLINE_STATS_PAUSE_SECONDS when nothing is left.
HOTLINE_STATS_MIN_CELL = env.integer("HOTLINE_STATS_MIN_CELL", 5, minimum=1)
HOTLINE_STATS_MAX_AGE_MINUTES = env.integer("HOTLINE_STATS_MAX_AGE_MINUTES", 15, minimum=1)
HOTLINE_STATS_BATCH = env.integer("HOTLINE_STATS_BATCH", 2000, minimum=1)
HOTLINE_STATS_PAUSE_SECONDS = env.integer("HOTLINE_STATS_PAUSE_SECONDS", 60, minimum=0)

# Known content: route an item whose captured media all match known-illegal entries of trusted
# banks without an analyst viewing it (an inherited, audited assessment).
HOTLINE_AUTO_ASSESS_KNOWN = env.boolean("HOTLINE_AUTO_ASSESS_KNOWN", True)
HOTLINE_PDQ_MIN_QUALITY = env.integer("HOTLINE_PDQ_MIN_QUALITY", 50, minimum=0)
# A process re-checks its in-memory hash index against the database's version at most every this many
# seconds (0: before every look-up). Its own writes and disabled entries apply at once (docs/known-content.md).
HOTLINE_HASH_INDEX_MAX_AGE = env.number("HOTLINE_HASH_INDEX_MAX_AGE", 1.0, minimum=0)

# --- iccam ---
# The ICCAM connector (docs/iccam.md): off while none of these is set; system check iccam.E001 refuses a
# partial set. Secrets (key passphrase, user, password) may come from *_FILE. The base URL ends with "/".
HOTLINE_ICCAM_BASE_URL = env.text("HOTLINE_ICCAM_BASE_URL", "") or ""
HOTLINE_ICCAM_CLIENT_CERT = env.text("HOTLINE_ICCAM_CLIENT_CERT", "") or ""
HOTLINE_ICCAM_CLIENT_KEY = env.text("HOTLINE_ICCAM_CLIENT_KEY", "") or ""
HOTLINE_ICCAM_CLIENT_KEY_PASSWORD = env.text("HOTLINE_ICCAM_CLIENT_KEY_PASSWORD", "") or ""
HOTLINE_ICCAM_CA_BUNDLE = env.text("HOTLINE_ICCAM_CA_BUNDLE", "") or ""
HOTLINE_ICCAM_USERNAME = env.text("HOTLINE_ICCAM_USERNAME", "") or ""
HOTLINE_ICCAM_PASSWORD = env.text("HOTLINE_ICCAM_PASSWORD", "") or ""
HOTLINE_ICCAM_PULL_SECONDS = env.integer("HOTLINE_ICCAM_PULL_SECONDS", 60, minimum=1)
HOTLINE_ICCAM_MAX_RESULTS = env.integer("HOTLINE_ICCAM_MAX_RESULTS", 200, minimum=1)
HOTLINE_ICCAM_LOOKBACK_DAYS = env.integer("HOTLINE_ICCAM_LOOKBACK_DAYS", 7, minimum=1)
HOTLINE_ICCAM_LOGIN_WAIT_SECONDS = env.integer("HOTLINE_ICCAM_LOGIN_WAIT_SECONDS", 2, minimum=0)
HOTLINE_ICCAM_PUSH_ATTEMPTS = env.integer("HOTLINE_ICCAM_PUSH_ATTEMPTS", 8, minimum=1)
HOTLINE_ICCAM_SEND_LEASE_SECONDS = env.integer("HOTLINE_ICCAM_SEND_LEASE_SECONDS", 120, minimum=1)
