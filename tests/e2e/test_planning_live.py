"""The live planning room in two browsers at once: what one member does (a suggestion, a vote, saved teams)
appears in the other's room by its poll, while the other's unsaved draft and half-typed suggestion stay as they
were; a poll that finds nothing new is answered 304 and changes nothing on the page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
POLL = "/planning/today/shared"


@pytest.fixture
def open_room(factories: Any) -> list[int]:
    """Six linked members available today in Acme; Player 1 opened today's room, all six are in it."""
    from webapp.accounts import services as accounts
    from webapp.accounts.models import User
    from webapp.extensions import db
    from webapp.gamenight import planning_rooms

    admin = factories.user("admin", "Acme")
    ids = [factories.player(admin.workspace_id, f"p{i}@example.com", "available", name=f"Player {i}")
           for i in range(1, 7)]
    members = [planning_rooms.Member.of(accounts.actor_for_user(db.session.get(User, i), admin.workspace_id))
               for i in ids]
    planning_rooms.create(members[0])
    for who in members[1:]:
        planning_rooms.join(who)
    return ids


def enter_room(page: Page, email: str) -> list[int]:
    """Sign in and open today's room; the statuses of the room's polls are noted in the list returned."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))  # the desk
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if POLL in r.url else None)
    page.goto("/planning/today")
    expect(page.get_by_role("button", name="Leave the room")).to_be_visible()
    page.evaluate("window.__noReload = true")
    return polls


def test_a_vote_in_one_browser_appears_in_the_other_whose_unsaved_draft_survives(
        page: Page, other_page: Page, open_room: list[int]) -> None:
    from webapp.extensions import db
    from webapp.gamenight.models import PlanningTeam

    enter_room(page, "p1@example.com")
    polls = enter_room(other_page, "p2@example.com")
    shared = other_page.locator("#planning-shared")
    expect(shared).to_have_attribute("hx-trigger", re.compile(r"^every 2s"))

    # Player 2 drafts without saving: a chip moved (the server redraws the draft, stores nothing), a team
    # name typed and a suggestion half-typed (in the browser only).
    draft = other_page.get_by_role("article", name="Draft")
    draft.locator(".draft-column.bench .chip", has_text="Player 3").click()
    expect(other_page.locator(".draft-column[data-team='0'] .chip", has_text="Player 3")).to_be_visible()
    other_page.get_by_label("Team 2 name").fill("Typed, not sent")
    other_page.get_by_label("New team name").fill("Half-typ")
    with other_page.expect_response(lambda r: POLL in r.url and r.status == 304):
        pass  # nothing changed yet: the poll is answered 304 and the page stays as it is
    expect(other_page.get_by_role("article", name="Team names")).to_contain_text("No suggestions yet")

    # Player 1 suggests a name and votes for it; Player 2 does nothing and sees both.
    page.get_by_label("New team name").fill("Night Owls")
    page.get_by_role("button", name="Suggest").click()
    page.get_by_role("article", name="Team names").get_by_role("button", name="Vote").click()
    expect(page.get_by_role("article", name="Team names").get_by_role("button", name="Withdraw vote")).to_be_visible()
    expect(page.get_by_label("New team name")).to_have_value("")  # the sent suggestion is cleared
    names = other_page.get_by_role("article", name="Team names")
    expect(names).to_contain_text("Night Owls")
    expect(names.locator(".suggestion-list li").first.locator(".badge")).to_have_text("1")
    expect(names.get_by_role("button", name="Vote")).to_be_visible()  # Player 2's own (not cast) vote
    assert 200 in polls and 304 in polls

    # Player 2's draft is as they left it; only the name they did not type follows the leading suggestion.
    expect(other_page.locator(".draft-column[data-team='0'] .chip", has_text="Player 3")).to_be_visible()
    expect(other_page.get_by_label("Team 2 name")).to_have_value("Typed, not sent")
    expect(other_page.get_by_label("Team 1 name")).to_have_value("Night Owls")
    expect(other_page.get_by_label("New team name")).to_have_value("Half-typ")

    # Player 1 auto-drafts and saves the teams: Player 2 sees them saved; their draft still is theirs.
    page.get_by_role("article", name="Draft").get_by_role("button", name="Auto-draft").click()
    expect(page.locator(".draft-column[data-team='0'] .chip")).to_have_count(3)
    page.get_by_role("button", name="Save teams").click()
    expect(page.get_by_role("article", name="Players")).to_contain_text("saved")
    teams = other_page.get_by_role("article", name="Players")
    expect(teams).to_contain_text("saved")
    expect(teams).to_contain_text("Night Owls")
    expect(other_page.get_by_label("Team 2 name")).to_have_value("Typed, not sent")
    expect(other_page.locator(".draft-column[data-team='0'] .chip")).to_have_count(1)

    for pg in (page, other_page):
        assert pg.evaluate("window.__noReload") is True  # one document all along: htmx swapped the parts
        assert_no_page_problems(pg)
    db.session.expire_all()
    saved = [t.name for t in db.session.query(PlanningTeam).order_by(PlanningTeam.position)]
    assert saved[0] == "Night Owls" and "Typed, not sent" not in saved


def test_a_poll_after_signing_out_takes_the_tab_to_the_login_page(page: Page, open_room: list[int]) -> None:
    enter_room(page, "p1@example.com")
    page.context.clear_cookies()  # signed out elsewhere, or the session ended
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("#planning-shared")).to_have_count(0)  # the login page is the page, not inside the room
    assert_no_page_problems(page)
