"""Scheduling a promotion in a real browser: the promote dialog's "Promote at" (labelled with the workspace's zone)
schedules the version, the dialog closes, the process page's "Scheduled" list shows it, and Cancel cancels it;
a time in the past is refused inside the dialog and nothing is scheduled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_promote_flow import history_row
from webapp.extensions import utcnow

pytestmark = pytest.mark.e2e
ZONE = ZoneInfo("Europe/Ljubljana")
EXPECTED_422 = "status of 422"  # Chromium logs the refused schedule's answer as a console error


@pytest.fixture
def candidate(factories: Any) -> tuple[str, str]:
    email = "sam.scheduler@example.com"
    actor = factories.user("promoter", email=email)
    proc = factories.process(actor, "Ticket summariser")
    factories.production(actor, proc, {"prompt": "v1"})
    factories.version(actor, proc, {"prompt": "v3"})
    return email, proc.slug


def open_dialog(page: Page) -> Any:
    history_row(page, 3).get_by_role("button", name="Promote to Production").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_promote_at_schedules_the_version_and_the_scheduled_list_cancels_it(page: Page, candidate) -> None:
    email, slug = candidate
    sign_in(page, email)
    page.goto(f"/processes/{slug}")
    expect(page.locator("#scheduled-promotions")).to_contain_text("Nothing scheduled")

    dialog = open_dialog(page)
    expect(dialog.get_by_text("Promote at — date (Europe/Ljubljana)")).to_be_visible()
    past = (utcnow() - timedelta(hours=2)).astimezone(ZONE)
    dialog.get_by_label("Promote at — date").fill(past.date().isoformat())
    dialog.get_by_label("Time").fill(f"{past:%H:%M}")
    dialog.get_by_role("button", name="Schedule").click()
    expect(dialog.locator("#promote-at-message")).to_contain_text("has passed")
    expect(page.locator("#scheduled-promotions")).to_contain_text("Nothing scheduled")

    at = (utcnow() + timedelta(hours=2)).astimezone(ZONE)
    dialog.get_by_label("Promote at — date").fill(at.date().isoformat())
    dialog.get_by_label("Time").fill(f"{at:%H:%M}")
    dialog.get_by_role("button", name="Schedule").click()
    expect(dialog).to_be_hidden()
    scheduled = page.locator("#scheduled-promotions")
    expect(scheduled).to_contain_text("Ticket summariser v3 → production")
    expect(scheduled).to_contain_text(f"{at:%Y-%m-%d %H:%M}")
    expect(page.locator("#toasts .toast")).to_contain_text("scheduled for")

    page.once("dialog", lambda confirm: confirm.accept())  # htmx asks before it cancels
    scheduled.get_by_role("button", name="Cancel").click()
    expect(scheduled).to_contain_text("cancelled")
    expect(scheduled.get_by_role("button", name="Cancel")).to_have_count(0)
    assert_no_page_problems(page, allow=(EXPECTED_422,))
