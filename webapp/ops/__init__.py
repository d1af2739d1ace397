"""Operations: `/health` and the RQ dashboard at `/rq` (the installation's operators only, behind our login and
CSRF)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import rq_dashboard
from flask import Flask, Response, abort, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape
from rq.job import Job
from rq_dashboard.web import setup_rq_connection
from sqlalchemy import text

from webapp.errors import BadRequest, NotFound
from webapp.extensions import courier, db
from webapp.inputs import whole_number

HEALTH_TIMEOUT_SECONDS = 2.0
RQ_PREFIX = "/rq"
RQ_REGISTRIES = frozenset({"queued", "failed", "deferred", "started", "finished", "scheduled", "canceled"})
RQ_MAX_PER_PAGE = 1000
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


class _Probe(threading.Thread):
    """One check in its own daemon thread: a hung database cannot hold up the Redis check, nor the
    next /health call (a shared pool would queue behind it and report Redis as timed out)."""

    def __init__(self, name: str, check: Callable[[Flask], None], app: Flask) -> None:
        super().__init__(name=f"health-{name}", daemon=True)
        self.kind, self.check, self.app, self.result = name, check, app, "timeout"

    def run(self) -> None:
        try:
            self.check(self.app)
            self.result = "ok"
        except Exception as exc:  # noqa: BLE001 — health reports, it does not raise
            self.result = f"error: {type(exc).__name__}"


_probes_lock = threading.Lock()


def _probe(app: Flask, name: str, check: Callable[[Flask], None]) -> _Probe:
    """The check of this kind already under way, or a new one: while the database hangs, each
    /health call waits on the one stuck probe instead of leaving another thread (and pooled
    connection) behind it."""
    with _probes_lock:
        in_flight: dict[str, _Probe] = app.extensions.setdefault("health_probes", {})
        probe = in_flight.get(name)
        if probe is None or not probe.is_alive():
            probe = in_flight[name] = _Probe(name, check, app)
            probe.start()
        return probe


def health() -> tuple[Response, int]:
    """200 {"db": "ok", "redis": "ok"}, or 503 naming what failed; both checks run at once, within
    one timeout."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    probes = [_probe(app, "db", _check_db), _probe(app, "redis", _check_redis)]
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    for probe in probes:
        probe.join(max(0.0, deadline - time.monotonic()))
    body = {probe.kind: probe.result for probe in probes}
    return jsonify(body), 200 if all(v == "ok" for v in body.values()) else 503


def _is_rq_path() -> bool:
    return request.path == RQ_PREFIX or request.path.startswith(RQ_PREFIX + "/")


def _guard_rq_dashboard() -> Response | None:
    """Only the installation's operators reach `/rq` (it spans every workspace's jobs); to anyone else signed
    in it does not exist (404). Runs before routing errors are raised, so a visitor gets one redirect to the
    login, not `/rq` → `/rq/` → login."""
    if not _is_rq_path():
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not current_user.is_operator:
        abort(404)
    if request.blueprint != "rq_dashboard":
        return None  # Flask answers the route's own redirect or 404
    # Upstream answers GET on /requeue/<queue>: a link could requeue every failed job.
    if request.method != "POST" and request.endpoint == "rq_dashboard.requeue_all":
        abort(405)
    _check_rq_arguments(request.view_args or {})
    return None


def _whole(value: object, name: str, high: int) -> None:
    whole_number(str(value), name, maximum=high)


def _check_rq_arguments(args: dict[str, object]) -> None:
    """rq-dashboard answers 500 to what it does not expect (a missing job, a paging word, an unknown
    registry, a Redis instance it does not have): those are 404s and 400s here."""
    if "instance_number" in args and int(args["instance_number"]) >= len(  # type: ignore[call-overload]
            current_app.config["RQ_DASHBOARD_REDIS_URL"]):
        raise NotFound("No such Redis instance.")
    if "registry_name" in args and args["registry_name"] not in RQ_REGISTRIES:
        raise NotFound(f"No such registry; registries are {', '.join(sorted(RQ_REGISTRIES))}.")
    if "per_page" in args:
        _whole(args["per_page"], "per_page", RQ_MAX_PER_PAGE)
    if "page" in args:
        _whole(args["page"], "page", 10**9)
    if "order" in args and args["order"] not in ("asc", "dsc"):
        raise BadRequest("order must be asc or dsc.")
    job_id = args.get("job_id")
    if job_id is not None and request.endpoint != "rq_dashboard.delete_job_view" \
            and not Job.exists(str(job_id), connection=courier.connection):
        raise NotFound("No such job (it may have expired).")


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
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_PREFIX)
    app.before_request(_guard_rq_dashboard)
    app.after_request(_rq_dashboard_csrf)
