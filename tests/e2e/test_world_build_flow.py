"""A world build in a real browser: design three rooms, submit, approve, build, walk the sandbox,
promote through the dialog, and find the new area highlighted on the map.

The live world (Limbo and a village square north of it) is seeded through the services; everything
else happens in the browser. With UPDATE_SCREENSHOTS=1 the dialog and the map go to docs/.
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

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EMAIL = "bea.builder@example.com"
ROOMS = [("gate", "Mill gate", "A gate in a mossy wall.", '{"hp": 10}'),
         ("yard", "Mill yard", "Sacks of grain.\n# chalked on the wall: no fire", '{"sheet": {"str": 12}}'),
         ("loft", "Grain loft", "Dust and beams.", "")]


@pytest.fixture
def live_world(factories: Any) -> dict[str, int]:
    from webapp.worlds import live as worlds

    admin = factories.user("admin", "Acme", email=EMAIL)
    limbo = factories.live_room(admin, "limbo", "Limbo")
    square = factories.live_room(admin, "square", "Village square")
    worlds.link_rooms(admin, limbo.id, square.id, "north")
    return {"limbo": limbo.id, "square": square.id}


def shot(page: Page, tmp_path: Path, name: str) -> None:
    folder = REPO / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / name))


def test_world_build_flow(page: Page, live_world: dict[str, int], tmp_path: Path) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="World builds").click()

    # A new project, and its three rooms designed through the form.
    page.locator("#new-build input[name=name]").fill("The Old Mill")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=re.compile("The Old Mill"), level=1)).to_be_visible()
    for key, name, description, attributes in ROOMS:
        add = page.locator("details.add-room")
        if not add.evaluate("d => d.open"):
            add.locator("summary").click()
        add.locator("input[name=key]").fill(key)
        add.locator("input[name=name]").fill(name)
        add.locator("textarea[name=description]").fill(description)
        add.locator("textarea[name=attributes]").fill(attributes)
        add.get_by_role("button", name="Add room").click()
        expect(page.locator("#rooms table")).to_contain_text(name)

    exits = page.locator("form.add-exit")
    for source, direction, destination in (("Mill gate", "north", "Mill yard"), ("Mill yard", "south", "Mill gate"),
                                           ("Mill yard", "up", "Grain loft"), ("Grain loft", "down", "Mill yard")):
        exits.locator("select[name=source_id]").select_option(label=source)
        exits.locator("select[name=direction]").select_option(direction)
        exits.locator("select[name=destination_id]").select_option(label=destination)
        exits.get_by_role("button", name="Add exit").click()
    expect(page.locator("#exits table tbody tr")).to_have_count(4)

    # Review and build.
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("button", name="Build sandbox").click()
    expect(page.locator(".workflow .steps .current")).to_have_text("built")

    # Walk the sandbox: the entry room, north to the yard, up to the loft.
    page.get_by_role("button", name="Walk the sandbox").click()
    expect(page.get_by_role("heading", name="Mill gate", level=1)).to_be_visible()
    expect(page.locator(".room-view")).to_contain_text("walking the sandbox of The Old Mill")
    page.locator(".exits").get_by_role("link", name="north").click()
    expect(page.get_by_role("heading", name="Mill yard", level=1)).to_be_visible()
    expect(page.locator(".room-description")).to_contain_text("# chalked on the wall: no fire")
    expect(page.locator("pre.attributes")).to_have_text('{"sheet": {"str": 12}}')
    page.locator(".exits").get_by_role("link", name="up").click()
    expect(page.get_by_role("heading", name="Grain loft", level=1)).to_be_visible()
    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name="The Old Mill").click()

    # Promote: search the connection room as you type, pick a direction, preview in the dialog.
    promote = page.locator("#promote")
    promote.get_by_placeholder("Search live rooms").press_sequentially("vill", delay=50)
    expect(promote.locator("#room-options label")).to_have_count(1)
    expect(promote.get_by_label(re.compile("Village square"))).to_be_checked()
    promote.locator("select[name=direction]").select_option("northeast")
    promote.get_by_role("button", name="Preview promotion").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Promote The Old Mill into the live world")).to_be_visible()
    expect(dialog.locator(".room-count")).to_have_text("3")
    expect(dialog.locator(".planned-exits li")).to_have_count(2)
    expect(dialog.locator(".planned-exits")).to_contain_text("northeast")
    expect(dialog.locator(".planned-exits")).to_contain_text("southwest")
    shot(page, tmp_path, "world-promote-dialog.png")
    dialog.get_by_role("button", name="Promote", exact=True).click()

    # The map of the live world, the new area highlighted, its rooms links.
    expect(page).to_have_url(re.compile(r"/world/map\?highlight=\d+$"))
    expect(page.locator(".toast")).to_contain_text("is live: 3 rooms")
    expect(page.locator(".map-room.is-new")).to_have_count(3)
    expect(page.locator(".map-room")).to_have_count(5)
    shot(page, tmp_path, "world-map.png")
    page.locator(".map-room.is-new", has_text="Mill gate").click()
    expect(page.get_by_role("heading", name="Mill gate", level=1)).to_be_visible()
    expect(page.locator(".room-view")).to_contain_text("live")
    expect(page.locator(".exits")).to_contain_text("Village square")
    assert_no_page_problems(page)
