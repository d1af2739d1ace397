"""Two-way reminders in a real browser: a member taps "I can't come" on the page their reminder links to, and
the promoter's open campaign page shows the answer without a reload."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
EMAIL = "promoter@example.com"


@pytest.fixture
def night(db: Any, factories: Any) -> dict[str, Any]:
    """A promoter, two opted-in players and a campaign starting soon whose reminder went out (so the page polls
    for the answers); the answer link of the first player."""
    from tests.gamenight.steps import job, soon
    from webapp.gamenight import campaign_links, campaigns
    from webapp.gamenight.campaign_plans import CampaignChoices
    from webapp.gamenight.models import JobKind, JobStatus

    promoter = factories.user("promoter", "Acme", email=EMAIL)
    ana = factories.player(promoter.workspace_id, "ana@example.com", target="json://relay.example/a", name="Ana")
    factories.player(promoter.workspace_id, "bor@example.com", target="json://relay.example/b", name="Bor")
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    job(campaign, JobKind.reminder).status = JobStatus.done  # as after the reminder's run
    db.session.commit()
    return {"campaign_id": campaign.id, "answer_path": f"/gamenight/answer/{campaign_links.answer_token(campaign.id, ana)}"}


def test_a_cant_tapped_on_the_reminders_page_shows_on_the_promoters_open_campaign_page(
        page: Page, browser: Any, live_server: str, night: dict) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/campaigns/{night['campaign_id']}")
    expect(page.locator(".answer-counts")).to_contain_text("0 can't")

    member = browser.new_context(base_url=live_server)  # the member's phone: a browser of its own
    try:
        phone = member.new_page()
        phone.goto(night["answer_path"])  # no sign-in: the signed link is the member's
        expect(phone.get_by_role("button", name="I can't come")).to_be_visible()
        phone.get_by_role("button", name="I can't come").click()
        expect(phone.locator(".notice")).to_contain_text("no more messages")
        expect(phone.get_by_role("button", name="I'm in")).to_have_count(0)  # final for this night
    finally:
        member.close()

    # The promoter's page was not reloaded: its timeline polls and the answer arrives.
    expect(page.locator(".answer-counts")).to_contain_text("1 can't")
    expect(page.locator(".campaign-answers")).to_contain_text("Ana: can't")
    assert_no_page_problems(page)
