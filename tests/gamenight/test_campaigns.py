"""Creating, reading and cancelling campaigns: one per promoter per local day (and a 409 that says why), the
idempotency key, three jobs on RQ (the ready-check the workspace's delay after the start call), tenancy, how
often the campaign page looks again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.gamenight.steps import soon, tomorrow_at
from webapp.accounts.models import Workspace
from webapp.errors import Conflict
from webapp.gamenight import campaign_plans, campaigns
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign, CampaignJob, CampaignStatus, JobKind, JobStatus


def test_second_campaign_the_same_local_day_is_a_409_and_cancelling_makes_room(db, promoter):
    first, created = campaigns.create(promoter, CampaignChoices(**tomorrow_at("20:00")))
    assert created
    with pytest.raises(Conflict) as caught:
        campaigns.create(promoter, CampaignChoices(**tomorrow_at("20:30")))
    assert caught.value.code == "already_promoted"
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    campaigns.cancel(promoter, first.id)
    again, created = campaigns.create(promoter, CampaignChoices(**tomorrow_at("20:30")))
    assert created and again.id != first.id


def test_the_same_idempotency_key_gives_back_the_same_campaign(db, promoter):
    first, created = campaigns.create(promoter, CampaignChoices(**soon()), idempotency_key="night-1")
    second, created_again = campaigns.create(promoter, CampaignChoices(**soon()), idempotency_key="night-1")
    assert created and not created_again and first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert db.session.scalar(select(func.count()).select_from(CampaignJob)) == 3


def test_a_campaign_schedules_three_jobs_on_rq_with_aware_utc_times(db, promoter, redis):
    from rq import Queue

    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon(30)))
    assert [j.kind for j in campaign.jobs] == [JobKind.reminder, JobKind.start, JobKind.ready_check]
    start = campaign.start_at
    assert [j.run_at for j in campaign.jobs] == [start - timedelta(minutes=15), start, start + timedelta(minutes=5)]
    scheduled = Queue("default", connection=redis).scheduled_job_registry
    ids = set(scheduled.get_job_ids())
    assert {j.rq_job_id for j in campaign.jobs} <= ids
    for j in campaign.jobs:
        assert abs(scheduled.get_scheduled_time(j.rq_job_id).replace(tzinfo=UTC) - j.run_at) < timedelta(seconds=1)


def test_workspaces_do_not_share_campaigns(db, promoter, factories):
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon()))
    other = factories.user("admin", "Other", email="other@example.com")
    from webapp.errors import NotFound

    with pytest.raises(NotFound):
        campaigns.get(other, campaign.id)
    assert db.session.get(Workspace, other.workspace_id) is not None


# -- the ready-check's delay and a second campaign of the day -----------------------------------------


@pytest.mark.parametrize(("zone", "day", "start_utc"), [
    ("Europe/Ljubljana", "2027-03-28", datetime(2027, 3, 28, 19, 0, tzinfo=UTC)),  # spring forward: CEST from 02:00
    ("Europe/Ljubljana", "2026-10-25", datetime(2026, 10, 25, 20, 0, tzinfo=UTC)),  # fall back: CET from 03:00
    ("Europe/Ljubljana", "2027-01-14", datetime(2027, 1, 14, 20, 0, tzinfo=UTC)),  # a normal winter day
    ("Asia/Tokyo", "2027-03-28", datetime(2027, 3, 28, 12, 0, tzinfo=UTC)),  # a zone without DST
])
def test_the_ready_check_runs_the_workspace_delay_after_the_start_call_on_dst_and_normal_days(
        db, promoter, zone, day, start_utc):
    from webapp.gamenight import night_settings

    night_settings.workspace(promoter.workspace_id).time_zone = zone
    db.session.commit()
    now = start_utc - timedelta(days=2)
    def runs() -> dict:
        return {kind.value: at for kind, at in campaign_plans.plan(promoter, CampaignChoices(day=day), now=now).runs}

    assert runs() == {"reminder": start_utc - timedelta(minutes=15), "start": start_utc,
                      "ready_check": start_utc + timedelta(minutes=5)}  # the default delay
    for delay in (0, 30):
        night_settings.settings_row(promoter.workspace_id).ready_check_delay = delay
        db.session.commit()
        assert runs()["ready_check"] == start_utc + timedelta(minutes=delay)  # 0: at the start call itself


def test_a_second_campaign_the_same_day_is_a_409_that_says_whether_the_first_can_still_be_cancelled(db, promoter):
    first, _ = campaigns.create(promoter, CampaignChoices(**tomorrow_at("20:00")))
    with pytest.raises(Conflict) as caught:
        campaigns.create(promoter, CampaignChoices(**tomorrow_at("20:30")))
    assert "cancel it to promote another" in caught.value.message
    assert caught.value.details == {"campaign_id": first.id, "status": "scheduled"}
    first.status = CampaignStatus.sent  # the night is over: it cannot be cancelled any more
    db.session.commit()
    with pytest.raises(Conflict) as caught:
        campaigns.create(promoter, CampaignChoices(**tomorrow_at("20:30")))
    assert "cancel" not in caught.value.message and "it is over (sent)" in caught.value.message
    assert caught.value.details == {"campaign_id": first.id, "status": "sent"}
    with pytest.raises(Conflict):
        campaigns.cancel(promoter, first.id)  # what the first 409 would have asked for is refused
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_the_preview_names_the_promoters_campaign_of_that_day(db, promoter):
    day = soon()
    assert campaign_plans.preview(promoter, CampaignChoices(**day)).existing is None
    first, _ = campaigns.create(promoter, CampaignChoices(**day))
    shown = campaign_plans.preview(promoter, CampaignChoices(**day)).as_json()["existing_campaign"]
    assert shown == {"id": first.id, "status": "scheduled"}
    campaigns.cancel(promoter, first.id)
    assert campaign_plans.preview(promoter, CampaignChoices(**day)).existing is None  # a cancelled one makes room


def test_the_campaign_page_polls_fast_only_while_a_step_is_near_or_running(db, promoter):
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon(60)))  # the reminder is 45 minutes away
    reminder = next(j for j in campaign.jobs if j.kind is JobKind.reminder)
    assert campaigns.poll_seconds(campaign, reminder.run_at - timedelta(minutes=11)) == campaigns.POLL_SLOW
    assert campaigns.poll_seconds(campaign, reminder.run_at - timedelta(minutes=10)) == campaigns.POLL_FAST
    reminder.status = JobStatus.running
    assert campaigns.poll_seconds(campaign, reminder.run_at - timedelta(hours=5)) == campaigns.POLL_FAST
    campaigns.cancel(promoter, campaign.id)
    assert campaigns.poll_seconds(campaign) == campaigns.POLL_FAST  # until the running reminder ends
    reminder.status = JobStatus.done
    assert campaigns.poll_seconds(campaign) is None


def test_a_called_off_campaign_page_polls_until_the_called_off_messages_are_out(db, promoter):
    campaign, _ = campaigns.create(promoter, CampaignChoices(**soon(60)))
    called_off, _ = campaigns.call_off(promoter, campaign.id)
    told = next(j for j in called_off.jobs if j.kind is JobKind.called_off)
    assert called_off.status is CampaignStatus.cancelled and campaigns.poll_seconds(called_off) == campaigns.POLL_FAST
    told.status = JobStatus.done
    assert campaigns.poll_seconds(called_off) is None
