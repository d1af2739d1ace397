"""Promotion Desk: promote from sandbox to production, and tell the right people at the right time."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapp.config import INSTANCE_DIR, Settings, SettingsError
from webapp.devinbox import init_devinbox
from webapp.extensions import courier, csrf, db, login_manager, migrate
from webapp.inputs import init_inputs
from webapp.sealing import redact_secret_paths
from webapp.templating import init_templating

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def create_app(settings: Settings | None = None) -> Flask:
    if settings is None:
        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            raise SystemExit(f"Promotion Desk cannot start: {exc}") from None
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG=settings.DEBUG,
        TESTING=settings.TESTING,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url, testing=settings.TESTING),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not (settings.DEBUG or settings.TESTING),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
        RQ_DASHBOARD_REDIS_URL=settings.REDIS_URL or "redis://127.0.0.1:1/0",
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    courier.init_app(app)

    init_inputs(app)  # before the routes: it replaces the `int` converter
    init_templating(app)
    _register_blueprints(app)
    init_devinbox(app)  # /dev/inbox and the sign-in page's demo logins, in development only
    _register_privacy_hooks()
    from webapp.cli import register_cli
    from webapp.errors import register_error_handlers

    register_error_handlers(app)
    register_cli(app)
    app.after_request(_security_headers)
    redact_secret_paths(logging.getLogger("werkzeug"), app.logger)
    return app


def _engine_options(url: str, *, testing: bool = False) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    # The pre-ping (a round trip at every checkout) replaces a pooled connection the server has dropped (a
    # restart, an idle timeout) before a request uses it. The test suite's own app skips it: no test restarts the
    # server, and a request there costs one round trip less; a test that kills a backend sees it invalidated.
    return {"pool_pre_ping": not testing, "pool_size": 10, "max_overflow": 20, "connect_args": {"connect_timeout": 5}}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _register_blueprints(app: Flask) -> None:
    from webapp.accounts.views import bp as accounts_bp
    from webapp.api import bp as api_bp
    from webapp.audit.views import bp as audit_bp
    from webapp.desk.views import bp as desk_bp
    from webapp.gamenight.discord_views import bp as discord_bp
    from webapp.gamenight.discord_views import members as discord_members_bp
    from webapp.gamenight.planning_views import bp as planning_bp
    from webapp.gamenight.schedule_views import bp as schedules_bp
    from webapp.gamenight.views import bp as gamenight_bp
    from webapp.gamenight.views import members as gamenight_members_bp
    from webapp.governance.schedule_views import bp as scheduled_promotions_bp
    from webapp.governance.views import bp as governance_bp
    from webapp.ops import init_ops
    from webapp.outbox.views import bp as outbox_bp
    from webapp.processes.views import bp as processes_bp
    from webapp.webhooks.views import bp as webhooks_bp
    from webapp.worlds.admin_views import bp as world_admin_bp
    from webapp.worlds.views import bp as worlds_bp

    for bp in (desk_bp, accounts_bp, processes_bp, worlds_bp, world_admin_bp, gamenight_bp, gamenight_members_bp, planning_bp,
               schedules_bp, scheduled_promotions_bp, discord_bp, discord_members_bp, governance_bp, audit_bp, outbox_bp,
               webhooks_bp, api_bp):
        app.register_blueprint(bp)
    csrf.exempt(api_bp)  # bearer tokens, not cookies: nothing for a forged request to ride on
    init_ops(app)


def _register_privacy_hooks() -> None:
    """Each flow tells "Download my data" / "Delete my account" what it holds about a member."""
    from webapp.accounts import privacy
    from webapp.gamenight.privacy import HOOK as gamenight_hook
    from webapp.governance.privacy import HOOK as governance_hook
    from webapp.processes.privacy import HOOK as processes_hook
    from webapp.worlds.privacy import HOOK as worlds_hook

    for hook in (governance_hook, processes_hook, worlds_hook, gamenight_hook):
        privacy.register(hook)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    settings = current_app.config["SETTINGS"]
    if not (settings.DEBUG or settings.TESTING):  # production is served over HTTPS only
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if not request.path.startswith("/api/"):
        headers.add("Vary", "HX-Request")
    return response
