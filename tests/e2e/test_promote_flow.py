"""The promote flow in a real browser: sign in, compare, open the promote dialog, confirm.

Data is seeded through the services (tests/factories.py); the browser only sees the live server.
The screenshot of the open dialog goes to docs/promote-dialog.png when UPDATE_SCREENSHOTS=1,
otherwise to tmp_path (so a normal run never dirties the tree).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, follow_nav, sign_in

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Locator, Page, expect

from webapp.processes import cache, documents

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
V1_CONFIG = {"model": "small", "prompt": "Summarise the support ticket: {{ ticket }}"}
V3_CONFIG = {"model": "small",
             "prompt": "Summarise the support ticket in two sentences, then suggest a label: {{ ticket }}",
             "temperature": 0.2}
CACHED_ENTRIES = 3
NOTES = "Shorter summaries with a label; temperature pinned to 0.2."
# A 409 answer is expected in the stale-dialog test; Chromium logs every 4xx resource as a console error.
EXPECTED_409 = "status of 409"


@dataclass
class Seeded:
    email: str
    slug: str
    process_id: int
    production_id: int  # v2, the production copy of v1
    candidate_id: int  # v3, sandbox active


@pytest.fixture
def seeded(factories: Any) -> Seeded:
    """v1 sandbox → promoted as v2 (production), v3 sandbox active with a changed prompt and an added key,
    and a few cached serving responses so the dialog's warning shows a real number."""
    email = "pat.promoter@example.com"
    actor = factories.user("promoter", email=email)
    proc = factories.process(actor, "Ticket summariser")
    production = factories.production(actor, proc, V1_CONFIG)
    candidate = factories.version(actor, proc, V3_CONFIG, notes="Two sentences and a label")
    for i in range(CACHED_ENTRIES):
        cache.put(proc.id, cache.input_fingerprint(production.id, {"ticket": f"T-{i}"}), {"summary": f"s{i}"}, 600)
    assert cache.count(proc.id) == CACHED_ENTRIES
    return Seeded(email=email, slug=proc.slug, process_id=proc.id, production_id=production.id,
                  candidate_id=candidate.id)




def history_row(page: Page, number: int) -> Locator:
    """The history table row of `v<number>` (matched by its version link, not by free text)."""
    return page.locator("#history").get_by_role("row").filter(
        has=page.get_by_role("link", name=f"v{number}", exact=True))


def open_promote_dialog(page: Page, number: int) -> Locator:
    history_row(page, number).get_by_role("button", name="Promote to Production").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name=f"Promote v{number} to production")).to_be_visible()
    return dialog


def screenshot_path(tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return REPO / "docs" / "promote-dialog.png"
    return tmp_path / "promote-dialog.png"


def test_promote_flow(page: Page, seeded: Seeded, tmp_path: Path) -> None:
    sign_in(page, seeded.email)
    follow_nav(page, "Processes")

    # The list shows the process with v2 in production; open it.
    row = page.get_by_role("row").filter(has_text="Ticket summariser")
    expect(row).to_contain_text("v2")
    row.get_by_role("link", name="Ticket summariser").click()
    expect(page.get_by_role("heading", name="Ticket summariser", level=1)).to_be_visible()
    history = page.locator("#history")
    expect(history_row(page, 2)).to_contain_text("production")
    expect(history_row(page, 3)).to_contain_text("sandbox")

    # Compare production v2 with the candidate v3.
    page.get_by_label("Old v2").check()
    page.get_by_label("New v3").check()
    history.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(rf"/processes/{seeded.slug}/compare\?"))
    expect(page.get_by_role("heading", name=re.compile(r"Compare v2\s*→\s*v3"))).to_be_visible()
    expect(page.locator(".diff-summary")).to_have_text("2 changes: 1 added, 1 modified")
    diff = page.locator(".diff-table")
    expect(diff).to_contain_text("config.prompt")
    expect(diff).to_contain_text("config.temperature")

    # Back to the history; open the promote dialog for v3.
    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name="Ticket summariser").click()
    dialog = open_promote_dialog(page, 3)
    expect(dialog).to_contain_text("Changes against v2")
    expect(dialog.locator(".diff-summary")).to_have_text("2 changes: 1 added, 1 modified")
    expect(dialog).to_contain_text("config.prompt")
    expect(dialog).to_contain_text("config.temperature")
    expect(dialog.get_by_role("note")).to_have_text(f"{CACHED_ENTRIES} cache entries will be invalidated.")
    notes = dialog.get_by_label("Change notes")
    notes.fill(NOTES)
    # Typing scrolled the dialog down; show it from its title for the screenshot.
    page.locator("#dialog-body").evaluate("body => { body.scrollTop = 0; }")
    # caret="initial": hiding the caret leaves style="" on every input, which htmx's settle would then copy onto
    # the history's re-rendered pickers (same ids) — an inline style the page's CSP rightly blocks.
    page.screenshot(path=str(screenshot_path(tmp_path)), caret="initial")

    # Confirm: the dialog closes, the history shows v4 live in production, a toast says so.
    dialog.get_by_role("button", name="Promote", exact=True).click()
    expect(dialog).to_be_hidden()
    toast = page.locator("#toasts .toast")
    expect(toast).to_contain_text("v4 is now in production (replaced v2). 3 cache entries invalidated.")
    v4 = history_row(page, 4)
    expect(v4).to_contain_text("production")
    expect(v4).to_contain_text("active")
    expect(v4).to_contain_text("live")
    expect(v4).to_contain_text(NOTES)
    expect(history_row(page, 2)).to_contain_text("deprecated")
    expect(history_row(page, 2).get_by_role("button", name="Roll back to this")).to_be_visible()
    expect(history.locator("tr.is-live")).to_have_count(1)

    live = documents.current_production(seeded.process_id)
    assert live is not None and live.number == 4 and live.change_notes == NOTES
    assert_no_page_problems(page)


def test_stale_dialog_answers_409_with_the_fresh_diff(page: Page, seeded: Seeded, factories: Any) -> None:
    sign_in(page, seeded.email)
    page.goto(f"/processes/{seeded.slug}")
    dialog = open_promote_dialog(page, 3)
    expect(dialog).to_contain_text("Changes against v2")
    dialog.get_by_label("Change notes").fill(NOTES)

    # Meanwhile someone else promotes another version (v4 sandbox → v5 production).
    other = factories.user("promoter", email="someone.else@example.com")
    factories.production(other, documents.get_process(other, seeded.slug), V1_CONFIG | {"model": "large"})

    dialog.get_by_role("button", name="Promote", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("Production changed since you opened this dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Changes against v5")  # the fresh preview, not the one first shown
    expect(dialog.get_by_label("Change notes")).to_have_value(NOTES)  # what was typed survives
    live = documents.current_production(seeded.process_id)
    assert live is not None and live.number == 5

    # Having seen the new diff, confirming again promotes.
    dialog.get_by_role("button", name="Promote", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#toasts .toast")).to_contain_text("v6 is now in production (replaced v5)")
    expect(history_row(page, 6)).to_contain_text("live")
    assert_no_page_problems(page, allow=(EXPECTED_409,))


def test_space_on_the_focused_promote_button_opens_the_dialog(page: Page, seeded: Seeded) -> None:
    sign_in(page, seeded.email)
    page.goto(f"/processes/{seeded.slug}")
    promote = history_row(page, 3).get_by_role("button", name="Promote to Production")
    promote.focus()
    expect(promote).to_be_focused()
    page.keyboard.press("Space")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Promote v3 to production")).to_be_visible()
    assert_no_page_problems(page)


def test_a_dialog_identical_to_production_says_so_and_its_promote_is_disabled(page: Page, seeded: Seeded,
                                                                               factories: Any) -> None:
    actor = factories.user("promoter", email="twin.maker@example.com")
    twin = factories.version(actor, documents.get_process(actor, seeded.slug), V1_CONFIG, notes="same as live")  # v4
    sign_in(page, seeded.email)
    page.goto(f"/processes/{seeded.slug}")
    expect(history_row(page, 2)).to_contain_text("(copy of v1)")
    dialog = open_promote_dialog(page, twin.number)
    expect(dialog.locator(".diff-summary")).to_have_text("No changes")
    expect(dialog.get_by_role("status")).to_contain_text("Identical to production — nothing to promote.")
    expect(dialog.get_by_role("button", name="Promote", exact=True)).to_be_disabled()
    expect(dialog.get_by_role("button", name="Schedule")).to_be_disabled()
    assert documents.current_production(seeded.process_id).number == 2
    assert_no_page_problems(page)


def test_compare_with_nothing_picked_says_so_beside_the_labelled_pickers(page: Page, seeded: Seeded) -> None:
    sign_in(page, seeded.email)
    page.goto(f"/processes/{seeded.slug}")
    url = page.url
    form = page.locator("#compare-form")
    form.get_by_role("button", name="Compare").click()
    expect(form.get_by_role("alert")).to_have_text(
        "Pick two versions to compare: one in the Old column and one in the New column.")
    assert page.url == url  # the page stays; only the message came
    page.get_by_label("Old v2").check()  # the labels are visible and name the version
    expect(page.locator("label[for^=compare-old-]", has_text="v2")).to_be_visible()
    form.get_by_role("button", name="Compare").click()
    expect(form.get_by_role("alert")).to_have_text("Pick a new version too (the New column).")
    page.get_by_label("New v3").check()
    form.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(rf"/processes/{seeded.slug}/compare\?old=\d+&new=\d+$"))
    expect(page.locator(".diff-summary")).to_have_text("2 changes: 1 added, 1 modified")
    assert_no_page_problems(page, allow=("status of 422",))
