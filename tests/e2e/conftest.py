"""Browser fixtures: the app served on a real port, and Playwright driving Debian's Chromium.

No browser is ever downloaded: Playwright launches `/usr/bin/chromium` (`executable_path`). When
that binary or the `playwright` package is missing, every browser test is skipped with the reason.
The browser flow runs once, on SQLite (the PostgreSQL parametrisation of `app` is skipped here).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
PHONE_NAV_PX = 768  # at this width and below the nav folds behind its Menu button (app.css)
TIMEOUT_MS = 10_000
E2E_DIR = Path(__file__).resolve().parent


def browser_unavailable() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright cannot be imported ({exc}); browser tests skipped"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip before any fixture is built: no browser, or the PostgreSQL run of a browser test."""
    why = browser_unavailable()
    for item in items:
        if E2E_DIR not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if why:
            item.add_marker(pytest.mark.skip(reason=why))
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(pytest.mark.skip(reason="browser flow runs once, on SQLite"))


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app on 127.0.0.1:<free port> in a daemon thread; yields the base URL."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):  # belt and braces
        pytest.skip("browser flow runs once, on SQLite")
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    why = browser_unavailable()
    if why:
        pytest.skip(why)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions do
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions, CSP violations and 5xx answers seen by one page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def unexpected(self, allow: tuple[str, ...] = ()) -> list[str]:
        """Everything seen, minus console lines containing one of `allow` (e.g. an expected 409)."""
        console = [m for m in self.console_errors if not any(a in m for a in allow)]
        return console + self.page_errors + self.csp_violations + self.server_errors


def assert_no_page_problems(page: Any, allow: tuple[str, ...] = ()) -> None:
    problems = page.problems.unexpected(allow)
    assert not problems, "the page reported problems:\n" + "\n".join(problems)


def screenshot(page: Any, tmp_path: Path, name: str, *, full_page: bool = False) -> Path:
    """The page as a picture: into docs/ for the README with UPDATE_SCREENSHOTS=1, else into the test's tmp_path."""
    import os

    folder = E2E_DIR.parent.parent / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    path = folder / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Any, email: str) -> None:
    """Sign in through the form, as a member would, and wait for the desk (where everyone lands)."""
    from playwright.sync_api import expect

    from tests.factories import PASSWORD

    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Desk", level=1)).to_be_visible()


def follow_nav(page: Any, *path: str) -> None:
    """Go somewhere as a member would, through the header: open each menu named (Game nights, Manage, the
    account), then click the link; on a phone the Menu button first."""
    nav = page.locator("header nav")
    toggle = nav.locator("[data-nav-toggle]")
    if (page.viewport_size or VIEWPORT)["width"] <= PHONE_NAV_PX and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    *menus, link = path
    for menu in menus:
        nav.locator("summary", has_text=menu).click()
    nav.get_by_role("link", name=link).click()


# Reports every CSP violation of every document of the context to Python (an exposed binding is
# not subject to the page's CSP and survives navigations).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__e2eCspViolation(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                           " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@contextmanager
def open_page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context (own cookies), base URL = the live server, 1280×900, and its page.

    `page.problems` collects what went wrong in the page; tests assert it is empty at the end.
    """
    context = browser.new_context(base_url=live_server, viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    problems = PageProblems()
    context.expose_function("__e2eCspViolation", lambda text: problems.csp_violations.append(f"CSP: {text}"))
    context.add_init_script(_CSP_LISTENER)
    pg = context.new_page()
    pg.on("console", lambda msg: problems.console_errors.append(f"{msg.text} ({msg.location.get('url')})")
          if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: problems.page_errors.append(f"uncaught: {exc}"))
    pg.on("response", lambda r: problems.server_errors.append(f"{r.status} {r.request.method} {r.url}")
          if r.status >= 500 else None)

    pg.problems = problems  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A page in a fresh browser context per test (see `open_page`)."""
    with open_page(browser, live_server) as pg:
        yield pg


@pytest.fixture
def other_page(browser: Any, live_server: str) -> Iterator[Any]:
    """A second page in a context of its own, open at the same time as `page`: another member's browser."""
    with open_page(browser, live_server) as pg:
        yield pg
