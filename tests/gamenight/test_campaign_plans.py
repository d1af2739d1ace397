"""What a campaign would be: time-zone math (DST days, the server's zone, the local date), a start that
has passed, a late promotion, and who would be told."""

from __future__ import annotations

import os
import time as clock
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select

from tests.gamenight.steps import LJUBLJANA, soon
from webapp.errors import Invalid
from webapp.gamenight import campaign_plans, campaigns
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign

# -- time -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "expected_utc"), [
    (date(2026, 3, 29), datetime(2026, 3, 29, 19, 0, tzinfo=UTC)),  # spring forward: CEST from 02:00
    (date(2026, 10, 25), datetime(2026, 10, 25, 20, 0, tzinfo=UTC)),  # fall back: CET from 03:00
    (date(2026, 1, 15), datetime(2026, 1, 15, 20, 0, tzinfo=UTC)),  # a normal winter day
    (date(2026, 7, 1), datetime(2026, 7, 1, 19, 0, tzinfo=UTC)),  # a normal summer day
])
def test_21_00_ljubljana_is_the_right_utc_instant_on_dst_switch_days_and_normal_days(day, expected_utc):
    assert campaign_plans.start_instant(LJUBLJANA, day, time(21, 0)) == expected_utc


def test_campaign_times_do_not_depend_on_the_server_time_zone(db, promoter):
    previous = os.environ.get("TZ")
    try:
        for server_zone in ("America/New_York", "Asia/Tokyo", "UTC"):
            os.environ["TZ"] = server_zone
            clock.tzset()
            p = campaign_plans.plan(promoter, CampaignChoices(day="2026-03-29"), now=datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
            assert p.start_at == datetime(2026, 3, 29, 19, 0, tzinfo=UTC)
            assert {k.value: at for k, at in p.runs}["reminder"] == datetime(2026, 3, 29, 18, 45, tzinfo=UTC)
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        clock.tzset()


def test_today_is_the_workspace_local_date_not_the_utc_date(db, promoter):
    # 23:30 UTC on 28 Oct is 00:30 on 29 Oct in Ljubljana: "today" is the 29th.
    p = campaign_plans.plan(promoter, now=datetime(2026, 10, 28, 23, 30, tzinfo=UTC))
    assert p.local_day == date(2026, 10, 29)
    assert p.start_at == datetime(2026, 10, 29, 20, 0, tzinfo=UTC)


def test_a_start_in_the_past_is_a_422_and_writes_nothing(db, promoter):
    with pytest.raises(Invalid) as caught:
        campaigns.create(promoter, CampaignChoices(day="2026-01-15", start_time="21:00"), now=datetime(2026, 1, 15, 20, 1, tzinfo=UTC))
    assert caught.value.status == 422 and "future" in caught.value.message
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_late_promotion_sends_the_reminder_at_once(db, promoter):
    now = datetime(2026, 1, 15, 19, 55, tzinfo=UTC)  # 20:55 local, start 21:00, lead 15
    runs = {k.value: at for k, at in campaign_plans.plan(promoter, now=now).runs}
    assert runs == {"reminder": now, "start": datetime(2026, 1, 15, 20, 0, tzinfo=UTC),
                    "ready_check": datetime(2026, 1, 15, 20, 5, tzinfo=UTC)}  # the default 5 minutes after


# -- recipients and guards ------------------------------------------------------------------------


def test_recipients_are_opted_in_members_with_a_chosen_status_only(db, promoter, factories):
    ws = promoter.workspace_id
    yes = factories.player(ws, "yes@example.com", "available")
    looking = factories.player(ws, "looking@example.com", "looking")
    factories.player(ws, "maybe@example.com", "maybe")
    factories.player(ws, "out@example.com", "available", opted_in=False)
    factories.player(ws, "busy@example.com", "not_available")
    factories.player(ws, "silent@example.com", None)
    p = campaign_plans.plan(promoter, CampaignChoices(statuses=["available", "looking"], **soon()))
    assert [u for u, _ in p.recipients] == sorted([yes, looking])
    assert dict(p.channels) == {"none": 2}  # no delivery targets in this test: counted, never a handle
    with_maybe = campaign_plans.plan(promoter, CampaignChoices(statuses=["available", "maybe", "looking"], **soon()))
    assert len(with_maybe.recipients) == 3
