"""Shared personas and helpers for every test: one user per role, an outsider, an API client."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from hotline.accounts.models import ApiClient, ClientKind, Role, User
from hotline.accounts.services import create_user, issue_api_client
from hotline.audit.services import SYSTEM
from hotline.demo.blankdb import CACHE_ENV
from hotline.reports.models import Item, ItemStatus, Source
from hotline.reports.services import IncomingReport, receive_reports

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - test personas only

# Hypothesis: one profile for the whole suite, so no property test fails because the machine is busy.
# No deadline and no "too slow" health check (both measure wall-clock time), a fixed example budget,
# and under CI=true the same examples on every run (derandomised), with the blob to reproduce a failure.
# A test that sets its own ``suppress_health_check`` replaces the profile's list: start it with
# ``TIMING_HEALTH_CHECKS``. HYPOTHESIS_PROFILE picks another registered profile.
TIMING_HEALTH_CHECKS = (HealthCheck.too_slow,)
HYPOTHESIS_EXAMPLES = 100
hypothesis_settings.register_profile(
    "hotline", deadline=None, max_examples=HYPOTHESIS_EXAMPLES, suppress_health_check=TIMING_HEALTH_CHECKS)
hypothesis_settings.register_profile(
    "hotline-ci", parent=hypothesis_settings.get_profile("hotline"), derandomize=True, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("hotline-ci" if os.environ.get("CI") == "true" else "hotline"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only", action="store_true", dest="database_tests_only",
        help="run only the tests that use the test database, except the real-browser ones (and any marked "
             "vendor_dependent): the PostgreSQL phase of `make test`, after the SQLite phase has run them all")


def pytest_configure(config: pytest.Config) -> None:
    """The demo's and the simulated partner's kept blank SQLite database (``hotline.demo.blankdb``): one folder
    per test run, made before the xdist workers start so that they and the processes they start share it, and
    never the user's own cache (a run starts cold, as CI does)."""
    if not hasattr(config, "workerinput") and not os.environ.get(CACHE_ENV):
        os.environ[CACHE_ENV] = config.stash[_BLANK_DB_DIR] = tempfile.mkdtemp(prefix="hotline-blankdb-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if folder := config.stash.get(_BLANK_DB_DIR, None):
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(CACHE_ENV, None)


_BLANK_DB_DIR = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering, which this one refines
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that drives the real browser is marked ``browser`` (``make test-fast`` leaves those out).

    With ``--database-tests-only`` (``make test-postgres``) only the tests that use the test database run, and
    those marked ``vendor_dependent``: the others run the same whatever DATABASE_URL says. The real-browser tests
    are left out there too (unless marked ``vendor_dependent``): what they add to the client tests is the
    browser's side (layout, scripts, keyboard, screenshots), while every view they drive runs on PostgreSQL
    through the test client (``core/tests/test_access_matrix.py`` renders every route for every role, and each
    desk has its own view tests); they were a quarter of that phase's time.

    Order, for two workers that finish together: the tests without a database first, then the database tests,
    then the transactional ones (pytest-django's order, except that tests without a database no longer wait
    until the end: they leave the database alone, so they may run anywhere; a plain database test still never
    follows a transactional one, whose flush empties what data migrations seeded). Inside each group the
    ``slow`` tests go first, so that no long scenario starts last while the other worker has run out of work
    (xdist hands out tests in this order; ``--maxschedchunk 1`` in the Makefile makes it one at a time).
    """
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
    if config.getoption("database_tests_only"):
        runs = [bool(item.get_closest_marker("vendor_dependent") or (
            _database_kind(item) and not item.get_closest_marker("browser"))) for item in items]
        config.hook.pytest_deselected(items=[item for item, run in zip(items, runs, strict=True) if not run])
        items[:] = [item for item, run in zip(items, runs, strict=True) if run]
    items.sort(key=lambda item: (_database_kind(item), item.get_closest_marker("slow") is None))


def _database_kind(item: pytest.Item) -> int:
    """0: no database, 1: a database test (rolled back), 2: transactional (flushed afterwards)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    marker = item.get_closest_marker("django_db")
    transactional = bool({"transactional_db", "live_server", "django_db_reset_sequences"} & fixtures) or bool(
        marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")
                    or (marker.args and marker.args[0])))
    if transactional:
        return 2
    return 1 if marker is not None or "db" in fixtures else 0


def _user(username: str, role: str) -> User:
    return create_user(username, PASSWORD, role, actor=SYSTEM)


@pytest.fixture
def analyst(db: None) -> User:
    return _user("ana", Role.ANALYST)


@pytest.fixture
def analyst2(db: None) -> User:
    return _user("bert", Role.ANALYST)


@pytest.fixture
def senior(db: None) -> User:
    return _user("sara", Role.SENIOR_ANALYST)


@pytest.fixture
def police(db: None) -> User:
    return _user("piet", Role.POLICE_LIAISON)


@pytest.fixture
def manager(db: None) -> User:
    return _user("mona", Role.MANAGER)


@pytest.fixture
def admin_user(db: None) -> User:
    return _user("adam", Role.ADMIN)


@pytest.fixture
def outsider(db: None) -> User:
    """Logged in, but with no role: must see nothing."""
    return User.objects.create_user("olga", password=PASSWORD)


@pytest.fixture
def personas(analyst: User, senior: User, police: User, manager: User, admin_user: User,
             outsider: User) -> dict[str, User]:
    return {"analyst": analyst, "senior_analyst": senior, "police_liaison": police,
            "manager": manager, "admin": admin_user, "outsider": outsider}


@pytest.fixture
def login() -> Callable[[User], Client]:
    """A client logged in as ``user`` with the second factor done (its own tests: accounts/tests)."""
    from hotline.accounts.session import mark_second_factor_done

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        session = client.session
        mark_second_factor_done(session)
        session.save()
        return client

    return make


@pytest.fixture
def partner_client(db: None) -> tuple[ApiClient, str]:
    return issue_api_client("Partner NL", ClientKind.PARTNER, actor=SYSTEM, country="NL")


@pytest.fixture
def make_item(db: None) -> Callable[..., Item]:
    counter = iter(range(1, 1_000_000))

    def make(url: str | None = None, source: str = Source.PUBLIC, *, captured: bool = True) -> Item:
        url = url or f"http://site-{next(counter)}.sim.test/page"
        result = receive_reports([IncomingReport(source=source, urls=[url])], actor=SYSTEM)[0]
        item_id = result.urls[0].item_id
        assert item_id is not None, result.urls[0].reason
        item = Item.objects.get(pk=item_id)
        if captured and item.status == ItemStatus.NEW:
            # Test set-up: skip the capture worker, whose own tests live in evidence/tests.
            fields = item.transition(ItemStatus.CAPTURED, now=timezone.now())
            item.next_capture_at = None
            item.save(update_fields=[*fields, "next_capture_at"])
        return item

    return make


@pytest.fixture(autouse=True)
def _no_language_leak() -> Iterator[None]:
    """A request under /nl/ or /fr/ leaves its language active in the thread, and reverse() in the
    next test would then build /fr/ URLs: start and end every test in the default language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _audit_guard_survives_flush(request: pytest.FixtureRequest) -> object:
    """SQLite flushes with DELETE, which the append-only trigger refuses: lift it for the flush
    that ends a transactional test, and put it back before every database test. On PostgreSQL (the flush
    truncates, which the row triggers let through) a transactional test that dropped the triggers to tamper
    with the chain would leave them dropped for the next tests of its worker: put them back after it."""
    from django.db import connection

    from hotline.audit import guard

    wants_db = request.node.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db"} & set(request.fixturenames)
    )
    if not wants_db:
        yield None
        return
    request.getfixturevalue("_django_db_helper")
    if connection.vendor == "sqlite":
        guard.install(connection)
    yield None
    transactional = "transactional_db" in request.fixturenames or _is_transactional(request)
    if connection.vendor == "sqlite" and transactional:
        guard.remove(connection)
    elif connection.vendor == "postgresql" and transactional:
        guard.install(connection)


@pytest.fixture(scope="session", autouse=True)
def _flush_only_tables_with_rows() -> Iterator[None]:
    """A transactional test ends with a flush, and on PostgreSQL Django truncates every table (about 80) in one
    statement: seconds per test on a busy machine, nearly all of it for tables the test never wrote. Here one
    query finds the tables holding rows and only those are emptied: with DELETE (the foreign keys Django makes
    are deferred to the commit, so the order does not matter), and with TRUNCATE where a trigger refuses
    DELETE (the append-only audit tables, which no foreign key references). The database ends as empty as
    Django's flush leaves it, and post_migrate then puts back the content types and permissions as before.
    SQLite's flush (a DELETE per table) is cheap and stays as it is."""
    from django.core.management.commands import flush

    original: Callable[..., list[str]] = getattr(flush, "sql_flush")  # noqa: B009 - the name the command calls
    known: dict[str, tuple[list[str], set[str]]] = {}

    def sql_flush(style: Any, connection: Any, reset_sequences: bool = True, allow_cascade: bool = False) -> list[str]:
        if connection.vendor != "postgresql" or reset_sequences:
            return list(original(style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade))
        if connection.alias not in known:
            with connection.cursor() as cursor:
                cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal")
                guarded = {name.strip('"') for (name,) in cursor.fetchall()}
            known[connection.alias] = (
                connection.introspection.django_table_names(only_existing=True, include_views=False), guarded)
        tables, guarded = known[connection.alias]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(
                f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {quote(t)})"  # noqa: S608 - Django's own table names
                for i, t in enumerate(tables)))
            written = [tables[i] for (i,) in cursor.fetchall()]
        truncate = [t for t in written if t in guarded]
        return ([f"TRUNCATE {', '.join(quote(t) for t in truncate)};"] if truncate else []) + [
            f"DELETE FROM {quote(t)};" for t in written if t not in guarded]  # noqa: S608 - as above

    setattr(flush, "sql_flush", sql_flush)  # noqa: B010 - django-stubs does not declare the imported name
    yield
    setattr(flush, "sql_flush", original)  # noqa: B010


def _is_transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture
def make_media(db: None) -> Callable[..., object]:
    """A captured media file (a generated pattern) on ``item``, stored encrypted like a real capture."""
    from hotline.evidence.models import Capture, Media
    from hotline.evidence.store import put_blob
    from hotline.sim.images import make_image

    def make(item: Item, *, seed: int = 1, kind: str = "png", data: bytes | None = None) -> Media:
        now = timezone.now()
        data = data or make_image(kind, seed, size=(320, 240))
        blob = put_blob(data)
        capture = item.captures.first() or Capture.objects.create(
            item=item, started_at=now, finished_at=now, outcome="captured", requested_url=item.canonical_url,
            final_url=item.canonical_url, http_status=200, peer_ip="127.0.0.1",
        )
        return Media.objects.create(
            capture=capture, item=item, url=f"{item.canonical_url}media-{seed}.{kind}", blob=blob, kind="image",
            mime=f"image/{kind}", size=len(data), sha256=blob.sha256, width=320, height=240, fetched_at=now,
        )

    return make
