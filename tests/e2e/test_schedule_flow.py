"""A promoter sets a weekly game night, skips one night and deletes the schedule through the confirm dialog,
in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, follow_nav

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
EMAIL = "promoter@example.com"


@pytest.fixture
def days(factories: Any) -> list[str]:
    """A promoter of Acme; two weekdays that are neither today nor tomorrow there (so the next two weeks hold
    exactly two nights of each, whatever the hour)."""
    from webapp.gamenight import night_settings

    promoter = factories.user("promoter", "Acme", email=EMAIL)
    today = night_settings.local_today(night_settings.workspace(promoter.workspace_id)).weekday()
    return [("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d] for d in sorted((today + k) % 7 for k in (2, 3))]


def test_a_promoter_sets_a_weekly_night_skips_one_and_deletes_it_after_confirming(
        page: Page, days: list[str]) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    follow_nav(page, "Game nights", "Weekly nights")
    form = page.locator("#new-schedule")
    for day in days:
        form.get_by_label(day, exact=True).check()
    form.get_by_label("Start").fill("20:30")
    form.get_by_label("Minimum ready").fill("4")
    form.get_by_role("button", name="Set weekly game night").click()
    expect(page).to_have_url(re.compile(r"/schedules/\d+$"))
    expect(page.locator("h1")).to_contain_text(f"{days[0]}, {days[1]} at 20:30")
    nights = page.locator("#schedule-nights tbody tr")
    expect(nights).to_have_count(4)
    expect(page.locator(".night-status.status-pending")).to_have_count(4)

    first = nights.first
    first.get_by_role("button", name="Skip").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_be_visible()  # it asks first
    expect(dialog).to_contain_text("will not be created")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).not_to_be_visible()
    expect(page.locator(".night-status.status-pending")).to_have_count(4)  # keeping it changed nothing
    first.get_by_role("button", name="Skip").click()
    dialog.get_by_role("button", name="Skip the night").click()
    expect(page.locator(".night-status.status-skipped")).to_have_count(1)
    expect(page.locator(".night-status.status-pending")).to_have_count(3)

    page.get_by_role("button", name="Delete schedule").click()
    expect(dialog).to_contain_text("3 pending nights will not be created")
    dialog.get_by_role("button", name="Delete the schedule").click()
    expect(page).to_have_url(re.compile(r"/schedules$"))
    expect(page.get_by_role("main")).to_contain_text("No weekly game night yet")
    assert_no_page_problems(page)
