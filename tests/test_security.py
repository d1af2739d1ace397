"""CSRF, security headers, session cookie, HTMX caching, the RQ dashboard guard and /health."""

from __future__ import annotations

import pytest


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


def test_rq_dashboard_sends_anonymous_visitors_to_login(client):
    response = client.get("/rq/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_rq_dashboard_is_forbidden_to_a_viewer(auth, factories):
    viewer = factories.user("viewer")
    auth.login(viewer.label)
    assert auth.get("/rq/").status_code == 403


def test_rq_dashboard_opens_for_an_admin_but_requeue_by_get_is_405(auth, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    assert auth.get("/rq/").status_code == 200
    assert auth.get("/rq/requeue/default").status_code == 405


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
