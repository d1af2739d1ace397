"""Creating, reading and cancelling campaigns: one per promoter per local day, the idempotency key, three
jobs on RQ, tenancy."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select

from tests.gamenight.steps import soon
from webapp.accounts.models import Workspace
from webapp.errors import Conflict
from webapp.gamenight import campaigns
from webapp.gamenight.campaign_plans import CampaignChoices
from webapp.gamenight.models import Campaign, CampaignJob, JobKind


def test_second_campaign_the_same_local_day_is_a_409_and_cancelling_makes_room(db, promoter):
    first, created = campaigns.create(promoter, CampaignChoices(**soon()))
    assert created
    with pytest.raises(Conflict) as caught:
        campaigns.create(promoter, CampaignChoices(**soon(30)))
    assert caught.value.code == "already_promoted"
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    campaigns.cancel(promoter, first.id)
    again, created = campaigns.create(promoter, CampaignChoices(**soon(30)))
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
    assert [j.run_at for j in campaign.jobs] == [start - timedelta(minutes=15), start, start]
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
