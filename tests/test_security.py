"""CSRF, security headers, session cookie, HTMX caching, the RQ dashboard guard and /health."""

from __future__ import annotations

import pytest
from rq import Queue
from rq.job import Job

from webapp import create_app
from webapp.accounts import services as accounts
from webapp.config import Settings


def test_form_post_without_csrf_token_is_400(auth, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.client.post("/settings/tokens", data={"name": "x"})
    assert response.status_code == 400 and "Reload the page" in response.get_data(as_text=True)


def test_htmx_post_without_csrf_token_is_400(auth, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.client.post("/settings/keys", headers={"HX-Request": "true"}, data={"environment": "sandbox"})
    assert response.status_code == 400 and "toast" in response.headers["HX-Trigger"]


def test_login_without_csrf_token_is_400(client, factories):
    admin = factories.user("admin")
    response = client.post("/login", data={"email": admin.label, "password": factories.PASSWORD})
    assert response.status_code == 400


def test_pages_carry_security_headers_and_vary_on_hx_request(auth, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    for path in ("/login", "/settings/keys", "/audit"):
        headers = auth.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "HX-Request" in headers["Vary"]


def test_layout_has_no_inline_script_or_style_and_sends_csrf_with_htmx(auth, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    html = auth.get("/settings/keys").get_data(as_text=True)
    assert "<script>" not in html and "<style" not in html and " style=" not in html and " onclick" not in html
    assert '<body hx-headers=\'{"X-CSRFToken": "' in html
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html


def test_session_cookie_is_httponly_and_samesite_lax(auth, factories):
    admin = factories.user("admin")
    cookie = next(c for c in auth.login(admin.label).headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _operator(factories, role="viewer"):
    """A member of a workspace who is also an operator of the installation."""
    member = factories.user(role)
    accounts.set_operator(member.label, True)
    return member


@pytest.mark.parametrize("path", ["/rq", "/rq/", "/rq/0/view/jobs", "/rq/0"])
def test_rq_dashboard_sends_anonymous_visitors_to_login_in_one_redirect(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ["viewer", "promoter", "admin"])
def test_rq_dashboard_does_not_exist_for_a_workspace_member_who_is_not_an_operator(auth, factories, role):
    member = factories.user(role)
    auth.login(member.label)
    assert auth.get("/rq").status_code == 404
    assert auth.get("/rq/").status_code == 404
    assert auth.get("/rq/0/data/queues.json").status_code == 404
    assert ">RQ</a>" not in auth.get("/settings/tokens").get_data(as_text=True)


def test_an_admin_cannot_requeue_or_delete_another_workspaces_jobs_in_rq(auth, factories, redis):
    failed = Queue("default", connection=redis).enqueue("jobs.outbox.run_effect", 1)
    admin = factories.user("admin", "Acme")
    auth.login(admin.label)
    assert auth.post(f"/rq/job/{failed.id}/requeue").status_code == 404
    assert auth.post(f"/rq/job/{failed.id}/delete").status_code == 404
    assert auth.post("/rq/queue/default/queued/empty").status_code == 404
    assert Job.exists(failed.id, connection=redis)


def test_rq_dashboard_opens_for_an_operator_but_requeue_by_get_is_405(auth, factories):
    operator = _operator(factories)
    auth.login(operator.label)
    assert auth.get("/rq").status_code == 308  # the operator's own trailing-slash redirect, to the dashboard
    assert auth.get("/rq/").status_code == 200
    assert ">RQ</a>" in auth.get("/settings/tokens").get_data(as_text=True)
    assert auth.get("/rq/requeue/default").status_code == 405


def test_rq_dashboard_shows_an_operator_a_job_that_exists(auth, factories, redis):
    job = Queue("default", connection=redis).enqueue("jobs.outbox.run_effect", 1)
    auth.login(_operator(factories).label)
    assert auth.get(f"/rq/0/data/job/{job.id}.json").get_json()["id"] == job.id
    assert auth.get("/rq/0/data/jobs/default/queued/8/asc/1.json").status_code == 200


@pytest.mark.parametrize("path, status", [
    ("/rq/0/view/job/no-such-job", 404),
    ("/rq/0/data/job/no-such-job.json", 404),
    ("/rq/1/view", 404),  # one Redis instance only
    ("/rq/7/data/queues.json", 404),
    ("/rq/0/data/jobs/default/no-such-registry/8/asc/1.json", 404),
    ("/rq/0/view/jobs/default/no-such-registry/8/asc/1", 404),
    ("/rq/0/data/jobs/default/failed/eight/asc/1.json", 400),
    ("/rq/0/data/jobs/default/failed/8/asc/first.json", 400),
    ("/rq/0/data/jobs/default/failed/0/asc/1.json", 400),
    ("/rq/0/data/jobs/default/failed/8/asc/0.json", 400),
    ("/rq/0/data/jobs/default/failed/8/sideways/1.json", 400),
    ("/rq/0/view/jobs/default/failed/0/asc/1", 400),
])
def test_rq_dashboard_answers_odd_addresses_with_4xx_not_500(auth, factories, path, status):
    auth.login(_operator(factories).label)
    assert auth.get(path).status_code == status


def test_rq_dashboard_requeue_of_a_missing_job_is_404(auth, factories):
    auth.login(_operator(factories).label)
    assert auth.post("/rq/job/no-such-job/requeue").status_code == 404


# -- HSTS -------------------------------------------------------------------------------------------


def _bare_settings(tmp_path, redis_url, **overrides):
    return Settings(SECRET_KEY="a-production-secret", DATABASE_URL=f"sqlite:///{tmp_path / 'hsts.sqlite'}",
                    REDIS_URL=redis_url, **overrides)


def test_production_settings_send_hsts(tmp_path, redis_url):
    response = create_app(_bare_settings(tmp_path, redis_url)).test_client().get("/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_debug_and_test_runs_send_no_hsts(tmp_path, redis_url, client):
    debug = create_app(_bare_settings(tmp_path, redis_url, DEBUG=True)).test_client().get("/login")
    assert "Strict-Transport-Security" not in debug.headers
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_health_reports_db_and_redis_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"db": "ok", "redis": "ok"}


@pytest.fixture
def settled_probes(app):
    """Probes this test leaves hanging finish before the next test asks /health (they are shared)."""
    yield
    for probe in app.extensions.pop("health_probes", {}).values():
        probe.join(15)


def test_health_is_503_naming_redis_when_redis_is_unreachable(app, client, monkeypatch, settled_probes):
    import redis as redis_lib

    monkeypatch.setitem(app.extensions, "redis", redis_lib.Redis(port=1, socket_connect_timeout=0.2))
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["db"] == "ok" and body["redis"] in ("timeout", "error: ConnectionError")


def test_health_is_503_naming_the_database_when_it_hangs_and_still_checks_redis_each_time(client, monkeypatch,
                                                                                          settled_probes):
    import threading

    from webapp import ops

    release = threading.Event()
    monkeypatch.setattr(ops, "HEALTH_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(ops, "_check_db", lambda app: release.wait(10))
    try:
        for _ in range(3):  # the hung probe of earlier calls does not starve the Redis check of the next
            response = client.get("/health")
            assert response.status_code == 503
            assert response.get_json() == {"db": "timeout", "redis": "ok"}
    finally:
        release.set()


def test_health_calls_while_the_database_hangs_share_one_probe_thread(client, monkeypatch, settled_probes):
    import threading

    from webapp import ops

    release = threading.Event()
    monkeypatch.setattr(ops, "HEALTH_TIMEOUT_SECONDS", 0.1)
    monkeypatch.setattr(ops, "_check_db", lambda app: release.wait(10))
    try:
        for _ in range(5):
            assert client.get("/health").get_json()["db"] == "timeout"
        stuck = [t for t in threading.enumerate() if t.name == "health-db" and t.is_alive()]
        assert len(stuck) == 1
    finally:
        release.set()
    stuck[0].join(5)
    monkeypatch.setattr(ops, "_check_db", lambda app: None)
    assert client.get("/health").get_json() == {"db": "ok", "redis": "ok"}


def test_static_assets_and_favicon_are_served(client):
    for path in ("/static/app.js", "/static/app.css", "/static/vendor/htmx.min.js", "/static/favicon.ico"):
        assert client.get(path).status_code == 200


@pytest.mark.parametrize(("path", "shown"), [
    ("/calendar/pdcal_SECRET.ics", "/calendar/[redacted].ics"),
    ("/gamenight/answer/SECRET?answer=late+20", "/gamenight/answer/[redacted]?answer=late+20"),
    ("/gamenight/call-off/SECRET", "/gamenight/call-off/[redacted]"),
    ("/contacts/email/confirm/SECRET", "/contacts/email/confirm/[redacted]"),
])
def test_tokens_in_link_paths_never_reach_the_request_log_or_the_error_log(app, caplog, path, shown):
    import logging

    caplog.set_level(logging.INFO)
    logging.getLogger("werkzeug").info('127.0.0.1 - - [x] "%s" %s %s', f"GET {path} HTTP/1.1", "200", "-")
    app.logger.error("unhandled error on %s %s", "POST", path)
    assert "SECRET" not in caplog.text and caplog.text.count(shown) == 2
