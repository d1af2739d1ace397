"""The audit page in a real browser: real rows (a process promotion, a world promotion, a long-winded webhook and a
few odd details) fit 1280 px without scrolling sideways, stack into cards at 390 px, and read as sentences with
links. A screenshot of each width goes to tmp_path (docs/ with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, sign_in

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from webapp.audit import services as audit
from webapp.processes import promotion as process_promotion
from webapp.worlds import promotion as world_promotion

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
EMAIL = "alexandra.wolfeschlegelsteinhausen@example.com"  # a long actor label


@pytest.fixture
def audited(db: Any, factories: Any) -> dict[str, Any]:
    admin = factories.user("admin", email=EMAIL)
    proc = factories.process(admin, "Ticket summariser for the second-line support desk")
    factories.production(admin, proc, {"prompt": "v1"})
    candidate = factories.version(admin, proc, {"prompt": "v3"})
    promoted = process_promotion.promote(admin, candidate.id, "A long note " * 12).promoted
    limbo = factories.live_room(admin, "limbo", "Village square")
    project = factories.build_project(admin, name="The Old Mill")
    world_promotion.promote(admin, project.id, limbo.id, "north")
    audit.record(admin, "webhook.created", "webhook", 77,
                 {"url": "https://hooks.example.com/" + "very-long-path-segment-" * 8, "events": ["version.promoted"]})
    audit.record(admin, "something.unheard_of", "thing", 1,
                 {"counts": {"sent": 3, "failed": 0}, "note": None, "token": "x" * 120})
    db.session.commit()
    return {"process": proc, "promoted": promoted, "project": project}




def scrolls_sideways(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    folder = REPO / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / name), full_page=True)


def test_the_audit_page_fits_1280_and_stacks_at_390_with_sentences_that_link(page: Page, live_server: str,
                                                                            audited: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    sign_in(page, EMAIL)
    page.goto("/audit")
    rows = page.locator("table.audit-table tbody tr")
    assert rows.count() >= 4
    promoted = rows.filter(has_text="promoted v4 (copy of v3)")
    expect(promoted.get_by_role("link", name="v4", exact=True)).to_have_attribute(
        "href", f"/versions/{audited['promoted'].id}")
    expect(promoted.get_by_role("link", name=audited["process"].name)).to_be_visible()
    area = rows.filter(has_text="into the live world")
    expect(area.get_by_role("link", name="The Old Mill")).to_be_visible()
    expect(area.get_by_role("link", name="Village square")).to_be_visible()
    expect(page.locator("table.audit-table")).not_to_contain_text("{'")
    expect(page.locator("table.audit-table")).not_to_contain_text("None")
    expect(rows.first.locator("time")).to_have_text(re.compile(r"^[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}( \d{4})?, \d\d:\d\d$"))
    assert not scrolls_sideways(page), "the audit page scrolls sideways at 1280 px"
    screenshot(page, "audit-1280.png", tmp_path)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert not scrolls_sideways(page), "the audit page scrolls sideways at 390 px"
    card = page.locator("table.audit-table tbody tr").first
    when, what = card.locator("td.audit-when").bounding_box(), card.locator("td.audit-what").bounding_box()
    assert when and what and what["y"] > when["y"]  # stacked: the sentence under when / who, not beside them
    assert page.locator("table.audit-table thead").bounding_box()["height"] <= 1  # headers hidden visually, kept for screen readers
    expect(page.locator("table.audit-table tbody tr").filter(has_text="into the live world")
           .get_by_role("link", name="Village square")).to_be_visible()
    screenshot(page, "audit-390.png", tmp_path)
    assert_no_page_problems(page)
