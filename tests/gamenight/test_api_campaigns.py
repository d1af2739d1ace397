"""The campaigns API: the contract shape, idempotency, conflicts, bad input, tenancy, roles, ids-only job
arguments, the rate limit, and never a handle in an answer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.gamenight.steps import assert_no_handle, body
from webapp.gamenight import campaign_plans, campaign_runs
from webapp.gamenight.models import Campaign, CampaignJob, JobStatus


@pytest.fixture
def api(client, promoter, factories):
    token = factories.personal_token(promoter)

    class Api:
        def __init__(self) -> None:
            self.headers = {"Authorization": f"Bearer {token}"}

        def post(self, url: str, body: dict | None = None, **headers: str):
            return client.post(url, json=body if body is not None else {}, headers=self.headers | headers)

        def get(self, url: str):
            return client.get(url, headers=self.headers)

    return Api()


# -- the JSON API ---------------------------------------------------------------------------------


def test_create_answers_201_with_the_contract_shape(api, members):
    answer = api.post("/api/v1/campaigns", body())
    assert answer.status_code == 201
    data = answer.get_json()
    assert set(data) >= {"id", "status", "recipient_count", "jobs"}
    assert data["status"] == "scheduled" and data["recipient_count"] == 3
    assert [j["type"] for j in data["jobs"]] == ["reminder", "start", "ready_check"]
    assert all(j["run_at"].endswith("+00:00") for j in data["jobs"])
    assert_no_handle(answer.get_data(as_text=True))


def test_the_same_idempotency_key_answers_200_with_the_same_campaign(api, members, db):
    first = api.post("/api/v1/campaigns", body(), **{"Idempotency-Key": "k-1"})
    again = api.post("/api/v1/campaigns", body(), **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_a_second_campaign_the_same_day_is_a_409(api, members):
    assert api.post("/api/v1/campaigns", body()).status_code == 201
    answer = api.post("/api/v1/campaigns", body())
    assert answer.status_code == 409 and answer.get_json()["error"] == "already_promoted"


@pytest.mark.parametrize(("change", "status"), [
    ({"start_time": "25:00"}, 400), ({"date": "someday"}, 400), ({"lead_minutes": 0}, 400),
    ({"lead_minutes": "ten"}, 400), ({"statuses": ["not_available"]}, 422), ({"statuses": []}, 422),
    ({"statuses": "nonsense"}, 422), ({"dry_run": "yes"}, 400), ({"colour": "red"}, 400),
    ({"date": "2020-01-01"}, 422), ({"date": "2099-01-01"}, 422),
])
def test_bad_input_is_a_4xx_with_a_message_and_writes_nothing(api, members, db, change, status):
    answer = api.post("/api/v1/campaigns", body(**change))
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    assert db.session.scalar(select(func.count()).select_from(CampaignJob)) == 0


def test_get_shows_status_jobs_and_counts_and_cancel_cancels_pending_jobs(api, members, db):
    created = api.post("/api/v1/campaigns", body()).get_json()
    shown = api.get(f"/api/v1/campaigns/{created['id']}").get_json()
    assert [j["status"] for j in shown["jobs"]] == ["scheduled"] * 3
    assert all(j["counts"] == {} for j in shown["jobs"])
    cancelled = api.post(f"/api/v1/campaigns/{created['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert {j.status for j in db.session.scalars(select(CampaignJob))} == {JobStatus.cancelled}
    assert api.post(f"/api/v1/campaigns/{created['id']}/cancel").status_code == 409


def test_preview_counts_recipients_and_channels_without_handles(api, members):
    answer = api.post("/api/v1/campaigns/preview", body())
    assert answer.status_code == 200
    assert answer.get_json()["recipient_count"] == 3 and answer.get_json()["channels"] == {"discord": 3}
    assert_no_handle(answer.get_data(as_text=True))


def test_campaigns_of_another_workspace_are_404(api, members, factories, client):
    created = api.post("/api/v1/campaigns", body()).get_json()
    stranger = factories.user("admin", "Other", email="stranger@example.com")
    headers = {"Authorization": f"Bearer {factories.personal_token(stranger)}"}
    assert client.get(f"/api/v1/campaigns/{created['id']}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/campaigns/{created['id']}/cancel", headers=headers).status_code == 404


def test_an_editor_cannot_promote_a_game_night(client, factories, members):
    editor = factories.user("editor", "Acme", email="editor@example.com")
    headers = {"Authorization": f"Bearer {factories.personal_token(editor)}"}
    assert client.post("/api/v1/campaigns", json=body(), headers=headers).status_code == 403
    assert client.post("/api/v1/campaigns/preview", json=body(), headers=headers).status_code == 403


def test_job_arguments_on_rq_are_ids_only(api, members, redis):
    from rq import Queue

    api.post("/api/v1/campaigns", body())
    queue = Queue("default", connection=redis)
    jobs = [queue.fetch_job(job_id) for job_id in queue.scheduled_job_registry.get_job_ids()]
    assert len(jobs) == 3
    for job in jobs:
        assert job.func_name == "jobs.gamenight.run_campaign_job"
        assert all(isinstance(arg, int) for arg in job.args) and not job.kwargs


def test_too_many_previews_in_a_minute_are_a_429_with_the_seconds_left_in_that_minute(api, members):
    answers = [api.post("/api/v1/campaigns/preview", body()) for _ in range(campaign_plans.RATE_LIMIT + 1)]
    assert [a.status_code for a in answers] == [200] * campaign_plans.RATE_LIMIT + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60


def test_the_campaign_json_never_holds_a_handle_even_after_sending(api, members, db, promoter, factories):
    created = api.post("/api/v1/campaigns", body(dry_run=True)).get_json()
    job = db.session.scalar(select(CampaignJob).where(CampaignJob.campaign_id == created["id"])
                            .order_by(CampaignJob.id))
    assert campaign_runs.run_job(job.id, now=job.run_at + timedelta(seconds=1)) == "done"
    answer = api.get(f"/api/v1/campaigns/{created['id']}")
    assert answer.get_json()["jobs"][0]["counts"] == {"dry_run": 3}
    assert_no_handle(json.dumps(answer.get_json()))


def test_the_api_preview_names_the_days_campaign_and_a_second_create_is_a_409_naming_it(api, members):
    assert api.post("/api/v1/campaigns/preview", body()).get_json()["existing_campaign"] is None
    created = api.post("/api/v1/campaigns", body()).get_json()
    preview = api.post("/api/v1/campaigns/preview", body()).get_json()
    assert preview["existing_campaign"] == {"id": created["id"], "status": "scheduled"}
    refused = api.post("/api/v1/campaigns", body())
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "already_promoted"
    assert refused.get_json()["details"] == {"campaign_id": created["id"], "status": "scheduled"}
