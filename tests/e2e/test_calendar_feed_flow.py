"""A member gets their calendar URL on the profile page in a real browser, a calendar client fetches it over HTTP
from the real server (and parses it), the member revokes it after confirming, and the server's own request log
never shows the token."""

from __future__ import annotations

import logging
import re
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, follow_nav

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from icalendar import Calendar
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
EMAIL = "jana@example.com"
LJUBLJANA = ZoneInfo("Europe/Ljubljana")


@pytest.fixture
def invited(factories: Any) -> Any:
    """Jana, linked and available three days from now, invited to that night's campaign at 21:00."""
    from webapp.extensions import utcnow
    from webapp.gamenight import campaigns
    from webapp.gamenight.campaign_plans import CampaignChoices

    day = utcnow().astimezone(LJUBLJANA).date() + timedelta(days=3)
    promoter = factories.user("promoter", "Acme", email="promoter@example.com")
    factories.player(promoter.workspace_id, EMAIL, "available", day=day, name="Jana")
    campaign, _ = campaigns.create(promoter, CampaignChoices(day=day.isoformat(), start_time="21:00"))
    return campaign


def fetch(url: str) -> tuple[int, bytes, str]:
    """What a calendar app gets: a plain GET, no cookies."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read(), answer.headers["Content-Type"]
    except urllib.error.HTTPError as refused:
        return refused.code, b"", refused.headers["Content-Type"]


def test_a_member_subscribes_a_calendar_app_and_revokes_it_after_confirming(page: Page, live_server: str,
                                                                           invited: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    follow_nav(page, "Game nights", "Availability")
    page.get_by_role("link", name="Add your game nights to your calendar").click()
    card = page.locator("#calendar-feed")
    page.evaluate("window.__noReload = true")
    card.get_by_role("button", name="Get a calendar URL").click()
    shown = card.get_by_label("Your calendar URL")
    expect(shown).to_have_value(re.compile(r"/calendar/pdcal_[A-Za-z0-9_-]{43}\.ics$"))
    path = re.search(r"/calendar/.+$", shown.input_value()).group(0)
    token = path.removeprefix("/calendar/").removesuffix(".ics")

    status, body, content_type = fetch(live_server + path)
    assert (status, content_type) == (200, "text/calendar; charset=utf-8")
    (event,) = Calendar.from_ical(body).walk("VEVENT")
    start = event.decoded("DTSTART")
    assert (start.date(), start.hour, start.minute) == (invited.local_day, 21, 0)
    assert start.astimezone(LJUBLJANA) == invited.start_at

    page.once("dialog", lambda dialog: dialog.accept())  # htmx asks before it revokes
    card.get_by_role("button", name="Revoke").click()
    expect(card.get_by_role("button", name="Get a calendar URL")).to_be_visible()
    assert page.evaluate("window.__noReload") is True  # the card was swapped, the page stayed
    assert fetch(live_server + path)[0] == 404

    requests = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert sum("GET /calendar/[redacted].ics" in line for line in requests) == 2
    assert not any(token in line for line in requests)
    assert token not in caplog.text
    assert_no_page_problems(page, allow=("404",))
