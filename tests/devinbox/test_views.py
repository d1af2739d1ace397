"""/dev/inbox and the sign-in page's demo logins: a development desk's (Settings.DEVELOPMENT, what `make run`'s
supervisor sets) and nobody else's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from tests.conftest import Auth, make_settings
from webapp import create_app
from webapp.demo import DEMO_EMAIL, DEMO_PASSWORD
from webapp.devinbox import store
from webapp.extensions import db

T0 = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dev_app(backend: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app as `make run` starts it: in development, reading its own demo inbox file."""
    inbox = tmp_path_factory.mktemp("devinbox") / "dev-inbox.jsonl"
    dev = create_app(make_settings(backend, redis_url, DEVELOPMENT=True, DEV_INBOX_PATH=str(inbox)))
    yield dev
    with dev.app_context():
        db.engine.dispose()


@pytest.fixture
def inbox(app: Flask, dev_app: Flask) -> Iterator[Path]:
    """The dev app's inbox file, empty at the start of each test (`app` empties the tables)."""
    path = Path(dev_app.config["SETTINGS"].DEV_INBOX_PATH)
    path.unlink(missing_ok=True)
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def dev_auth(dev_app: Flask) -> Auth:
    return Auth(dev_app.test_client())


def _demo_players(factories) -> tuple[int, int, int]:
    admin = factories.user("admin", "Demo", email=DEMO_EMAIL)
    ana = factories.player(admin.workspace_id, "ana@example.com", target="json://127.0.0.1:8025/ana", name="Ana")
    bor = factories.player(admin.workspace_id, "bor@example.com", target="json://127.0.0.1:8025/bor", name="Bor")
    return admin.workspace_id, ana, bor


def _caught(path: Path, to: str, title: str, body: str, minutes: int) -> None:
    store.append(path, store.CaughtMessage(T0 + timedelta(minutes=minutes), f"json://127.0.0.1:8025/{to}", title, body))


def _titles(page: str) -> list[str]:
    return re.findall(r'<article class="caught-message">\s*<header>\s*<strong>(.*?)</strong>', page)


def test_the_demo_inbox_lists_what_each_demo_player_got_newest_first_with_title_and_body_escaped(
        factories, inbox, dev_auth):
    _, ana, bor = _demo_players(factories)
    _caught(inbox, "ana", "Game night at 20:00", "Reminder: <b>tonight</b>\nAnswer in, late or can't", 0)
    _caught(inbox, "bor", "Game night at 20:00", "Reminder for Bor", 1)
    _caught(inbox, "ana", "Starting now", "Join voice", 15)

    assert dev_auth.login(DEMO_EMAIL, factories.PASSWORD).status_code == 302
    page = dev_auth.get("/dev/inbox").get_data(as_text=True)
    assert _titles(page) == ["Starting now", "Game night at 20:00", "Game night at 20:00"]  # newest first
    assert "Reminder: &lt;b&gt;tonight&lt;/b&gt;<br>Answer in, late or can&#39;t" in page
    assert f'value="member-{ana}" >Ana (2)' in page and f'value="member-{bor}" >Bor (1)' in page

    only_ana = dev_auth.get(f"/dev/inbox?to=member-{ana}", htmx=True).get_data(as_text=True)
    assert _titles(only_ana) == ["Starting now", "Game night at 20:00"] and "Reminder for Bor" not in only_ana


def test_a_player_reads_only_the_messages_sent_to_them(factories, inbox, dev_auth):
    _, ana, _bor = _demo_players(factories)
    _caught(inbox, "ana", "For Ana", "hi Ana", 0)
    _caught(inbox, "bor", "For Bor", "hi Bor", 1)
    _caught(inbox, "summary", "Tonight's summary", "3 ready", 2)

    assert dev_auth.login("bor@example.com", factories.PASSWORD).status_code == 302
    page = dev_auth.get("/dev/inbox").get_data(as_text=True)
    assert _titles(page) == ["For Bor"]
    assert dev_auth.get(f"/dev/inbox?to=member-{ana}").status_code == 404  # not even whether Ana has any


def test_an_unknown_recipient_is_a_404_and_an_anonymous_reader_is_sent_to_sign_in(factories, inbox, dev_auth):
    _demo_players(factories)
    assert dev_auth.get("/dev/inbox").status_code == 302
    dev_auth.login(DEMO_EMAIL, factories.PASSWORD)
    assert dev_auth.get("/dev/inbox?to=member-999").status_code == 404
    assert "Nothing yet" in dev_auth.get("/dev/inbox").get_data(as_text=True)  # no file yet: an empty inbox


def test_outside_development_there_is_no_demo_inbox_page_and_no_nav_link(app, factories, auth):
    _demo_players(factories)
    auth.login(DEMO_EMAIL)
    assert auth.get("/dev/inbox").status_code == 404
    with app.test_request_context("/"):
        assert render_template_string("{{ dev_inbox_url }}") == "None"


def test_in_development_the_nav_link_is_a_template_global(dev_app):
    with dev_app.test_request_context("/"):
        assert render_template_string("{{ dev_inbox_url }}") == "/dev/inbox"


def _demo_logins_shown(client: FlaskClient) -> list[str]:
    page = client.get("/login").get_data(as_text=True)
    return re.findall(r'data-demo-email="([^"]+)"\s+data-demo-password="' + DEMO_PASSWORD + '"', page)


def test_the_login_page_shows_the_demo_logins_only_in_development_and_only_with_the_demo_workspace(
        factories, inbox, dev_app, client):
    factories.user("admin", "Acme", email="someone@example.com")
    assert _demo_logins_shown(dev_app.test_client()) == []  # no demo workspace

    _demo_players(factories)
    assert _demo_logins_shown(dev_app.test_client()) == [DEMO_EMAIL, "ana@example.com", "bor@example.com"]
    page = dev_app.test_client().get("/login").get_data(as_text=True)
    assert 'src="/static/login.js"' in page and "<script>" not in page  # the CSP allows no inline script

    assert _demo_logins_shown(client) == []  # the same database, not in development
    assert "Demo logins" not in client.get("/login").get_data(as_text=True)
