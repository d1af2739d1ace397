"""A promoter promotes tonight's game night through the dialog and watches its timeline, in a real browser."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, follow_nav, screenshot

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
EMAIL = "promoter@example.com"


@pytest.fixture
def night(factories: Any) -> dict[str, str]:
    """A promoter and three opted-in players (two available, one maybe); a start 30 minutes from now."""
    from webapp.extensions import utcnow

    promoter = factories.user("promoter", "Acme", email=EMAIL)
    ws = promoter.workspace_id
    factories.player(ws, "ana@example.com", "available", target="json://relay.example/a")
    factories.player(ws, "bor@example.com", "looking", target="json://relay.example/b")
    factories.player(ws, "cene@example.com", "maybe", target="json://relay.example/c")
    start = (utcnow() + timedelta(minutes=30)).astimezone(ZoneInfo("Europe/Ljubljana"))
    return {"date": start.date().isoformat(), "start": start.strftime("%H:%M")}


def test_a_promoter_creates_a_campaign_through_the_dialog_and_sees_the_timeline(page: Page, night: dict,
                                                                             tmp_path: Path) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    follow_nav(page, "Game nights", "Campaigns")
    form = page.locator("#promote-tonight")
    form.get_by_label("Date").fill(night["date"])
    form.get_by_label("Start").fill(night["start"])
    form.get_by_role("button", name="Preview").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".recipient-count")).to_have_text("2")  # available + looking; maybe not picked
    expect(dialog).to_contain_text("2 by discord")
    expect(dialog).not_to_contain_text("relay.example")
    screenshot(page, tmp_path, "game-night-dialog.png")
    dialog.get_by_role("button", name="Promote").click()
    expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    timeline = page.locator("#campaign-timeline")
    expect(timeline.locator("#campaign-status")).to_have_text("scheduled")
    expect(timeline.locator(".timeline-step")).to_have_count(3)
    expect(timeline.locator('[data-kind="reminder"]')).to_contain_text("Reminder")
    expect(timeline.locator('[data-kind="start"]')).to_contain_text(night["start"])
    expect(page.locator(".notice, .toast").first).to_contain_text("promoted")
    timeline.get_by_role("button", name="Cancel campaign").click()
    expect(dialog).to_be_visible()  # it asks first, saying what it stops
    expect(dialog).to_contain_text("will not run")
    expect(page.locator("#campaign-status")).to_have_text("scheduled")
    dialog.get_by_role("button", name="Cancel the game night").click()
    expect(page.locator("#campaign-status")).to_have_text("cancelled")
    assert_no_page_problems(page)
