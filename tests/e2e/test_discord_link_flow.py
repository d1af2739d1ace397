"""A member links Discord in a real browser: profile → (fake) Discord's authorize page → choose the player's
name → linked, and the nav's "not linked" badge is gone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, follow_nav

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from tests.fake_discord import NELLY, FakeDiscord

pytestmark = pytest.mark.e2e
EMAIL = "nelly@example.com"


@pytest.fixture
def discord_app(app: Any, live_server: str, httpserver: Any, monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    """Discord configured for the live server: its callback is the only allowed redirect URI."""
    fake = FakeDiscord(httpserver)
    monkeypatch.setitem(app.config, "SETTINGS", fake.settings_for(app, f"{live_server}/auth/discord/callback"))
    return fake


@pytest.fixture
def member(factories: Any) -> Any:
    return factories.user("viewer", "Acme", email=EMAIL)


def test_a_member_links_discord_from_the_profile_and_the_badge_goes(page: Page, discord_app: FakeDiscord,
                                                                    member: Any, db: Any) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    badge = page.locator("header nav .nav-link-badge")
    expect(badge).to_contain_text("not linked")

    follow_nav(page, EMAIL, "Profile")
    page.locator("#linking").get_by_role("button", name="Link Discord").click()
    expect(page.get_by_role("heading", name="Authorize Promotion Desk?")).to_be_visible()  # Discord's page
    page.get_by_role("link", name="Authorize").click()

    expect(page.get_by_role("heading", name="Link Discord")).to_be_visible()
    expect(page.locator("article.discord-confirm")).to_contain_text("Nelly Bly (@nellyb)")
    page.get_by_label("Nelly Bly").check()
    page.get_by_role("button", name="Create my player and link Discord").click()

    expect(page.locator("#toasts")).to_contain_text("is linked to your player Nelly Bly")
    row = page.locator("#channel-discord")
    expect(row).to_contain_text(NELLY["id"])
    expect(row.get_by_role("button", name="Change Discord")).to_be_visible()
    expect(badge).to_have_count(0)
    assert discord_app.revoked == discord_app.issued[:1]
    assert_no_page_problems(page)
