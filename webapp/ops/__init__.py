"""Operations: `/health` and the RQ dashboard at `/rq` (admins only, behind our login and CSRF)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import rq_dashboard
from flask import Flask, Response, abort, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape
from rq_dashboard.web import setup_rq_connection
from sqlalchemy import text

from webapp.accounts.context import current_actor
from webapp.accounts.models import Role
from webapp.extensions import courier, db

HEALTH_TIMEOUT_SECONDS = 2.0
_probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")
RQ_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
          "script-src 'self' 'unsafe-inline' 'unsafe-eval'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")


def _check_db(app: Flask) -> None:
    with app.app_context():
        try:
            db.session.execute(text("SELECT 1"))
        finally:
            db.session.remove()


def _check_redis(app: Flask) -> None:
    with app.app_context():
        courier.connection.ping()


def health() -> tuple[Response, int]:
    """200 {"db": "ok", "redis": "ok"}, or 503 naming what failed; each check has a timeout."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    futures = {"db": _probe_pool.submit(_check_db, app), "redis": _probe_pool.submit(_check_redis, app)}
    body: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=HEALTH_TIMEOUT_SECONDS)
            body[name] = "ok"
        except FutureTimeout:
            body[name] = "timeout"
        except Exception as exc:  # noqa: BLE001 — health reports, it does not raise
            body[name] = f"error: {type(exc).__name__}"
    return jsonify(body), 200 if all(v == "ok" for v in body.values()) else 503


def _guard_rq_dashboard() -> Response | None:
    if request.blueprint != "rq_dashboard":
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    current_actor().require(Role.admin, "open the job queues")
    # Upstream answers GET on /requeue/<queue>: a link could requeue every failed job.
    if request.method != "POST" and "/requeue/" in request.path:
        abort(405)
    return None


def _rq_dashboard_csrf(response: Response) -> Response:
    """rq-dashboard's own POSTs (jQuery) learn our CSRF token from a meta tag and a small script."""
    if request.blueprint == "rq_dashboard":
        response.headers["Content-Security-Policy"] = RQ_CSP
        if response.mimetype == "text/html" and not response.direct_passthrough:
            html = response.get_data(as_text=True)
            snippet = (f'<meta name="csrf-token" content="{escape(generate_csrf())}">'
                       '<script src="/static/rq-csrf.js"></script></head>')
            response.set_data(html.replace("</head>", snippet, 1))
    return response


def init_ops(app: Flask) -> None:
    app.add_url_rule("/health", "health", health)
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/rq")
    app.before_request(_guard_rq_dashboard)
    app.after_request(_rq_dashboard_csrf)
