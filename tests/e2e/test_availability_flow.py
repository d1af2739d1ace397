"""A member sets their status on the availability page in a real browser (htmx, no page reload)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, follow_nav

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
EMAIL = "jana@example.com"


@pytest.fixture
def linked_member(factories: Any) -> None:
    from webapp.gamenight import night_settings, players

    admin = factories.user("admin", "Acme")
    member = factories.user("viewer", "Acme", email=EMAIL)
    players.save_profile(member, players.PlayerCommand(display_name="Jana", aliases="jana#1"))
    code, _ = players.new_link_code(member)
    night_settings.rotate_bot_token(admin)
    players.confirm_link(member.workspace_id, players.LinkConfirmCommand(
        code=code, channel="discord", external_id="1111", target="json://relay.example/hook"))


def test_a_member_sets_and_clears_a_status_without_a_page_reload(page: Page, linked_member: None) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    follow_nav(page, "Game nights", "Availability")
    today = page.get_by_role("article", name="Today")
    expect(today).to_contain_text("0 available")
    page.evaluate("window.__noReload = true")
    today.get_by_role("button", name="available", exact=True).click()
    today = page.get_by_role("article", name="Today")
    expect(today.locator("li.status-available")).to_contain_text("1 available")
    expect(today.locator("li.status-available")).to_contain_text("Jana")
    expect(today.get_by_role("button", name="available", exact=True)).to_have_attribute("aria-pressed", "true")
    today.get_by_role("button", name="available", exact=True).click()  # clicking the current status clears it
    expect(page.get_by_role("article", name="Today").locator("li.status-available")).to_contain_text("0 available")
    assert page.evaluate("window.__noReload") is True  # the same document all along: htmx swapped the panels
    page.get_by_role("button", name="Open calendar").click()
    expect(page.locator("#calendar table.calendar")).to_be_visible()
    assert_no_page_problems(page)


def test_an_unlinked_member_gets_a_discord_link_code_from_the_availability_page(page: Page, factories: Any) -> None:
    factories.user("viewer", "Acme", email=EMAIL)
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    follow_nav(page, "Game nights", "Availability")
    page.get_by_role("note").get_by_role("button", name="Link Discord").click()  # no Discord sign-in configured
    shown = page.locator(".link-code")
    expect(shown).to_contain_text("on Discord /link code:")
    code = shown.locator("strong code").inner_text()
    assert len(code) == 8 and f"/link code:{code}" in shown.inner_text()
    assert_no_page_problems(page)
