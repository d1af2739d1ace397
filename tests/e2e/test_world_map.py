"""The map in a real browser: at a phone's 390 px the page itself never scrolls sideways (the map scrolls in
its own box), and every room's name, as Chromium draws it, stays inside the room's box — at 390 px and at
1280 px, for long, wide and East Asian names. With UPDATE_SCREENSHOTS=1 the pictures go to docs/.
"""

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

from tests.worlds.test_worldmap import map_world

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EMAIL = "cartographer@example.com"

# Per room: is each label's box (and the marker's) inside the room's rect, as Chromium measures them?
_LABELS_OUTSIDE_THEIR_BOX = """() => {
  const out = [];
  const inside = (inner, outer) => inner.x >= outer.x - 0.5 && inner.y >= outer.y - 0.5 &&
      inner.x + inner.width <= outer.x + outer.width + 0.5 && inner.y + inner.height <= outer.y + outer.height + 0.5;
  for (const room of document.querySelectorAll('.map-room')) {
    const box = room.querySelector('rect').getBBox();
    for (const text of room.querySelectorAll('text')) {
      const b = text.getBBox();
      if (!inside(b, box)) out.push(`${text.textContent}: ${b.x},${b.y} ${b.width}x${b.height}`);
    }
  }
  for (const area of document.querySelectorAll('.map-area')) {
    const frame = area.querySelector('rect').getBBox(), b = area.querySelector('text').getBBox();
    if (!inside(b, frame)) out.push(`area ${area.textContent}`);
  }
  return out;
}"""


@pytest.fixture
def world(factories: Any) -> dict[str, Any]:
    admin = factories.user("admin", "Acme", email=EMAIL)
    return map_world(admin, factories)


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    folder = REPO / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / name), full_page=True)




def _page_width(page: Page) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def test_at_390_px_the_map_scrolls_in_its_box_and_the_page_does_not(page: Page, world: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, EMAIL)
    page.goto("/world/map")
    expect(page.locator(".map-room")).not_to_have_count(0)
    scroll_width, inner_width = _page_width(page)
    assert scroll_width <= inner_width, f"the page scrolls sideways: {scroll_width} > {inner_width}"
    box = page.locator(".map-scroll")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")  # the map is wider than the phone: it scrolls
    assert box.evaluate("e => e.getBoundingClientRect().right") <= inner_width
    assert page.evaluate(_LABELS_OUTSIDE_THEIR_BOX) == []
    # a label is drawn at a readable size: at least 10 px on the screen
    size = page.locator(".map-label").first.evaluate("t => t.getBoundingClientRect().height")
    assert size >= 10, size
    _shot(page, tmp_path, "world-map-390.png")

    page.get_by_role("button", name="Whole map").click()
    expect(page).to_have_url(re.compile(r"span=\d+"))
    expect(page.locator(".map-room")).to_have_count(27)
    scroll_width, inner_width = _page_width(page)
    assert scroll_width <= inner_width
    assert page.evaluate(_LABELS_OUTSIDE_THEIR_BOX) == []
    box.evaluate("e => { e.scrollLeft = e.scrollWidth; }")  # the far side of the map is reachable in the box
    assert box.evaluate("e => e.scrollLeft") > 0
    assert_no_page_problems(page)


def test_at_1280_px_every_name_stays_in_its_box_and_hovering_shows_the_full_name(page: Page, world: dict[str, Any],
                                                                                 tmp_path: Path) -> None:
    sign_in(page, EMAIL)
    page.goto("/world/map")
    page.get_by_role("button", name="Whole map").click()
    expect(page.locator(".map-room")).to_have_count(27)
    assert page.evaluate(_LABELS_OUTSIDE_THEIR_BOX) == []
    long_room = page.locator(f'.map-room[data-room-id="{world["rooms"]["WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"]}"]')
    expect(long_room.locator("title")).to_have_text(re.compile(r"^W{30} \(r10#01\)"))
    expect(long_room.locator("text.map-label").last).to_have_text(re.compile("…$"))
    expect(page.locator(".map-area")).to_have_count(4)
    expect(page.locator(".map-legend")).to_contain_text("up/down")
    _shot(page, tmp_path, "world-map-areas.png")
    page.locator(".map-room", has_text="Mill yard").click()
    expect(page.get_by_role("heading", name="Mill yard", level=1)).to_be_visible()
    assert_no_page_problems(page)


def test_after_panning_the_map_back_brings_the_earlier_view_with_its_buttons_working(page: Page,
                                                                                   world: dict[str, Any]) -> None:
    sign_in(page, EMAIL)
    page.goto("/world/map")
    page.get_by_role("button", name="East →").click()
    expect(page).to_have_url(re.compile(r"[?&]x=-?\d+"))
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"[?&]x=-?\d+"))
    for name in ("← West", "↑ North", "East →", "Whole map"):
        button = page.get_by_role("button", name=name)
        expect(button).to_be_enabled()
        expect(button).not_to_have_attribute("aria-busy", "true")
    page.get_by_role("button", name="Whole map").click()
    expect(page).to_have_url(re.compile(r"span=\d+"))
    assert_no_page_problems(page)
