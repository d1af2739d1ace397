"""Four eyes in a real browser: promoter A requests a promotion from the confirm dialog, promoter B (another browser
context, another session) finds it behind the nav's Reviews badge, reads the same diff and approves it with a
comment, A applies it, and the process page's history says B approved.

The screenshot of the review dialog goes to docs/review-dialog.png when UPDATE_SCREENSHOTS=1, otherwise to tmp_path
(so a normal run never dirties the tree).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_promote_flow import REPO, V1_CONFIG, V3_CONFIG, history_row
from webapp.governance import services as governance
from webapp.governance.services import PolicyCommand
from webapp.processes import documents

pytestmark = pytest.mark.e2e

NOTES = "Two sentences and a label; temperature pinned."
COMMENT = "Read the new prompt against three tickets: fine."
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def seeded(factories: Any) -> dict[str, Any]:
    """Ticket summariser with v2 in production and v3 in the sandbox; the workspace needs one approval."""
    admin = factories.user("admin", email="ada.admin@example.com")
    alice = factories.user("promoter", email="alice.asks@example.com")
    factories.user("promoter", email="bob.reviews@example.com")
    proc = factories.process(alice, "Ticket summariser")
    factories.production(alice, proc, V1_CONFIG)
    factories.version(alice, proc, V3_CONFIG, notes="Two sentences and a label")
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1))
    return {"slug": proc.slug, "process_id": proc.id}


def screenshot_path(tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return REPO / "docs" / "review-dialog.png"
    return tmp_path / "review-dialog.png"


def page_fits(page: Page) -> None:
    scroll_width, inner_width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"the page scrolls sideways: {scroll_width} > {inner_width}"


def test_a_promoter_requests_a_second_approves_in_another_browser_and_the_history_says_who(
        page: Page, other_page: Page, seeded: dict[str, Any], tmp_path: Path) -> None:
    alice, bob = page, other_page

    # A: the confirm dialog asks for approval instead of promoting.
    sign_in(alice, "alice.asks@example.com")
    alice.goto(f"/processes/{seeded['slug']}")
    history_row(alice, 3).get_by_role("button", name="Promote to Production").click()
    dialog = alice.get_by_role("dialog")
    expect(dialog).to_contain_text("Needs 1 approval from a promoter or admin other than you before it applies.")
    dialog.get_by_label("Change notes").fill(NOTES)
    dialog.get_by_role("button", name="Request promotion").click()
    expect(alice).to_have_url(re.compile(r"/reviews/\d+$"))
    expect(alice.locator("#toasts")).to_contain_text("needs 1 approval before it applies")
    review_url = alice.url
    expect(alice.get_by_role("button", name="Approve")).to_have_count(0)  # not hers to approve

    # B, in a browser of their own: the badge counts it, the list shows it, the dialog shows the diff.
    sign_in(bob, "bob.reviews@example.com")
    reviews = bob.get_by_role("link", name=re.compile(r"^Reviews"))
    expect(reviews.locator(".badge")).to_have_text("1")
    reviews.click()
    expect(bob.get_by_role("heading", name="Waiting for review")).to_be_visible()
    row = bob.get_by_role("row").filter(has_text="Ticket summariser v3 → production")
    expect(row).to_contain_text("alice.asks@example.com")
    expect(row).to_contain_text("0/1")
    row.get_by_role("link", name="Ticket summariser v3 → production").click()
    expect(bob).to_have_url(review_url)
    expect(bob.locator(".diff-summary")).to_have_text("2 changes: 1 added, 1 modified")
    expect(bob.locator(".change-notes")).to_have_text(NOTES)
    bob.get_by_label("Comment").fill(COMMENT)
    bob.screenshot(path=str(screenshot_path(tmp_path)), full_page=True)
    bob.set_viewport_size(PHONE)
    page_fits(bob)
    bob.get_by_role("button", name="Approve").click()
    expect(bob.locator("#toasts")).to_contain_text("may be applied now")
    expect(bob.locator(".decisions")).to_contain_text(f"Approved by bob.reviews@example.com: {COMMENT}")
    page_fits(bob)
    bob.goto("/reviews")
    expect(bob.get_by_role("row").filter(has_text="Ticket summariser")).to_contain_text("approved")
    page_fits(bob)

    # A applies it; the process page's history says who approved.
    alice.reload()
    alice.get_by_role("button", name="Apply").click()
    expect(alice.locator("#toasts")).to_contain_text("Applied: Ticket summariser v3 → production")
    alice.goto(f"/processes/{seeded['slug']}")
    approvals = alice.locator("#promotion-requests")
    expect(approvals).to_contain_text("applied")
    expect(approvals).to_contain_text(f"Approved by bob.reviews@example.com: {COMMENT}")
    expect(approvals).to_contain_text("Applied by alice.asks@example.com")
    expect(history_row(alice, 4)).to_contain_text("live")
    alice.set_viewport_size(PHONE)
    page_fits(alice)
    live = documents.current_production(seeded["process_id"])
    assert live is not None and live.number == 4 and live.change_notes == NOTES
    assert_no_page_problems(alice)
    assert_no_page_problems(bob)
