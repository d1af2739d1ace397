"""A newcomer on `make run`'s desk (DEVELOPMENT on), in a real browser: the sign-in page lists the demo logins,
"Use" fills the form (webapp/static/login.js, under the CSP), and the demo inbox shows the player their messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, open_page

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import expect

from tests.conftest import make_settings
from webapp import create_app
from webapp.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_WORKSPACE
from webapp.devinbox import store
from webapp.extensions import db

pytestmark = pytest.mark.e2e


@pytest.fixture
def dev_server(app: Any, backend: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The app as `make run` starts it, on a real port; yields its base URL and its demo inbox file."""
    if backend.startswith("postgresql"):
        pytest.skip("browser flow runs once, on SQLite")
    from werkzeug.serving import make_server

    inbox = tmp_path / "dev-inbox.jsonl"
    dev = create_app(make_settings(backend, redis_url, DEVELOPMENT=True, DEV_INBOX_PATH=str(inbox)))
    server = make_server("127.0.0.1", 0, dev, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-dev-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with dev.app_context():
            db.engine.dispose()


def test_a_demo_player_signs_in_from_the_listed_logins_and_reads_their_inbox(browser: Any, factories: Any,
                                                                             dev_server: tuple[str, Path]) -> None:
    from webapp.accounts import services as accounts
    from webapp.notify import contacts
    from webapp.notify.models import Channel

    url, inbox = dev_server
    accounts.create_user(DEMO_EMAIL, DEMO_PASSWORD, DEMO_WORKSPACE, "admin")
    ana, membership = accounts.create_user("ana@example.com", DEMO_PASSWORD, DEMO_WORKSPACE, "viewer")
    contact, _ = contacts.attach_identity(membership.workspace_id, ana.id, Channel.discord, "100001")
    contacts.set_target(contact, "json://127.0.0.1:8025/ana")
    db.session.commit()
    now = datetime.now(UTC)
    store.append(inbox, store.CaughtMessage(now - timedelta(minutes=15), "json://127.0.0.1:8025/ana",
                                            "Game night at 20:00", "Answer <in> or can't"))
    store.append(inbox, store.CaughtMessage(now, "json://127.0.0.1:8025/ana", "Starting now", "Join voice"))
    store.append(inbox, store.CaughtMessage(now, "json://127.0.0.1:8025/summary", "Summary", "for admins"))

    with open_page(browser, url) as page:
        page.goto("/login")
        page.get_by_role("row", name="ana@example.com").get_by_role("button", name="Use").click()
        expect(page.get_by_label("E-mail")).to_have_value("ana@example.com")
        expect(page.get_by_label("Password")).to_have_value(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda u: "/login" not in u)

        page.goto("/dev/inbox")
        titles = page.locator("article.caught-message header strong")
        expect(titles).to_have_text(["Starting now", "Game night at 20:00"])  # newest first, none of the summary
        expect(page.get_by_text("Answer <in> or can't")).to_be_visible()  # escaped, shown as written
        assert_no_page_problems(page)
