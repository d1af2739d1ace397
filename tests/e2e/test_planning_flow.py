"""Game night planning in a real browser: the room unlocks on the availability page, a member opens and
joins it, suggests a team name and votes, clicks and drags chips, auto-drafts and saves the teams."""

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


@pytest.fixture
def ready_players(factories: Any) -> list[int]:
    """Six linked members available today in Acme (the threshold); the first is the one who signs in."""
    admin = factories.user("admin", "Acme")
    return [factories.player(admin.workspace_id, f"p{i}@example.com", "available", name=f"Player {i}")
            for i in range(1, 7)]


def test_a_member_opens_the_room_suggests_votes_drafts_and_saves_teams(page: Page, ready_players: list[int]) -> None:
    from webapp.gamenight import planning_rooms
    from webapp.gamenight.models import PlanningTeam

    page.goto("/login")
    page.get_by_label("E-mail").fill("p1@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    follow_nav(page, "Game nights", "Availability")
    panel = page.get_by_role("article", name="Planning room")
    expect(panel).to_contain_text("6 ready")
    panel.get_by_role("button", name="Open the planning room").click()
    expect(page.get_by_role("heading", name="Planning room")).to_be_visible()
    expect(page.get_by_role("button", name="Leave the room")).to_be_visible()  # the opener is in

    page.evaluate("window.__noReload = true")
    page.get_by_label("New team name").fill("  Night   Owls ")
    page.get_by_role("button", name="Suggest").click()
    names = page.get_by_role("article", name="Team names")
    expect(names).to_contain_text("Night Owls")
    names.get_by_role("button", name="Vote").click()
    expect(page.get_by_role("article", name="Team names").get_by_role("button", name="Withdraw vote")).to_be_visible()

    # The others join from their phones meanwhile (the bot or the API); the page shows them on its next swap.
    from webapp.accounts import services as accounts
    from webapp.accounts.models import User
    from webapp.extensions import db

    for user_id in ready_players[1:]:
        actor = accounts.actor_for_user(db.session.get(User, user_id), db.session.get(User, user_id).memberships[0]
                                        .workspace_id)
        planning_rooms.join(planning_rooms.Member.of(actor))
    draft = page.get_by_role("article", name="Draft")
    draft.get_by_role("button", name="Auto-draft").click()
    draft = page.get_by_role("article", name="Draft")
    expect(draft.locator(".draft-column[data-team='0'] .chip")).to_have_count(3)
    expect(draft.locator(".draft-column[data-team='1'] .chip")).to_have_count(3)
    expect(draft.get_by_label("Team 1 name")).to_have_value("Night Owls")  # the leading suggestion

    # Click a chip: it moves on (team 1 → team 2); drag one back onto the bench.
    first = draft.locator(".draft-column[data-team='0'] .chip").first
    moved = first.inner_text()
    first.click()
    expect(page.locator(".draft-column[data-team='1'] .chip", has_text=moved)).to_be_visible()
    page.locator(".draft-column[data-team='1'] .chip", has_text=moved).drag_to(page.locator(".draft-column.bench"))
    expect(page.locator(".draft-column.bench .chip", has_text=moved)).to_be_visible()

    page.get_by_label("Team 2 name").fill("Early Birds")
    page.get_by_label("Team 2 name").press("Enter")  # Enter in a name saves (never re-drafts)
    teams = page.get_by_role("article", name="Players")
    expect(teams).to_contain_text("saved")
    expect(teams).to_contain_text("Night Owls")
    expect(teams).to_contain_text("Early Birds")
    expect(teams).to_contain_text(f"Bench: {moved}")
    assert page.evaluate("window.__noReload") is True  # one document all along: htmx swapped the room
    db.session.expire_all()
    assert [t.name for t in db.session.query(PlanningTeam).order_by(PlanningTeam.position)] == \
        ["Night Owls", "Early Birds"]
    assert_no_page_problems(page)
