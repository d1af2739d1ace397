"""Campaigns over HTTP: the promote-tonight dialog and campaign page, the campaigns and presence APIs,
the summary channel setting — roles, tenancy, CSRF, bad input, and never a handle in an answer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.test_gamenight_campaigns import soon
from webapp.gamenight import campaigns
from webapp.gamenight.models import Campaign, CampaignJob, GamenightSettings, JobStatus, PresenceReport

SECRET_TARGET = "json://relay.example/hook/secret-4821"


@pytest.fixture
def promoter(factories):
    return factories.user("promoter", "Acme", email="promoter@example.com")


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


@pytest.fixture
def members(promoter, factories):
    ws = promoter.workspace_id
    return [factories.player(ws, f"m{i}@example.com", target=SECRET_TARGET) for i in range(3)]


def body(**extra) -> dict:
    when = soon()
    return {"date": when["day"], "start_time": when["start_time"], "statuses": ["available", "looking"]} | extra


def assert_no_handle(text: str) -> None:
    assert "relay.example" not in text and "secret-4821" not in text and "ext-" not in text


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


def test_too_many_previews_in_a_minute_are_a_429(api, members):
    codes = [api.post("/api/v1/campaigns/preview", body()).status_code for _ in range(campaigns.RATE_LIMIT + 1)]
    assert codes[:-1] == [200] * campaigns.RATE_LIMIT and codes[-1] == 429


# -- presence ---------------------------------------------------------------------------------------


@pytest.fixture
def bot_headers(promoter, factories):
    from webapp.gamenight import services as gamenight

    admin = factories.user("admin", "Acme", email="boss@example.com")
    return {"Authorization": f"Bearer {gamenight.rotate_bot_token(admin)}"}


def test_a_bot_reports_presence(client, bot_headers, db):
    answer = client.post("/api/v1/presence", json={"source": "voice", "present": ["111", 222]}, headers=bot_headers)
    assert answer.status_code == 200 and answer.get_json()["count"] == 2
    assert db.session.scalar(select(PresenceReport.present)) == ["111", "222"]


@pytest.mark.parametrize("payload", [{"source": "radio", "present": []}, {"source": "voice"},
                                     {"source": "voice", "present": "111"}, {"source": "voice", "present": [""]},
                                     {"source": "voice", "present": [{"id": 1}]}])
def test_bad_presence_reports_are_400_and_store_nothing(client, bot_headers, db, payload):
    assert client.post("/api/v1/presence", json=payload, headers=bot_headers).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(PresenceReport)) == 0


def test_presence_needs_the_bot_token(client, db):
    assert client.post("/api/v1/presence", json={"source": "voice", "present": []}).status_code == 401


# -- the dashboard ----------------------------------------------------------------------------------


def test_promoter_previews_in_the_dialog_confirms_and_lands_on_the_timeline(auth, promoter, members, db):
    auth.login("promoter@example.com")
    when = soon()
    page = auth.get("/campaigns").get_data(as_text=True)
    assert "Promote tonight" in page
    dialog = auth.get(f"/campaigns/preview?statuses=available&statuses=looking&date={when['day']}"
                      f"&start_time={when['start_time']}", htmx=True)
    text = dialog.get_data(as_text=True)
    assert dialog.status_code == 200 and '<strong class="recipient-count">3</strong>' in text
    assert "3 by discord" in text and "<html" not in text
    assert_no_handle(text)
    key = text.split('name="idempotency_key" value="', 1)[1].split('"', 1)[0]
    form = {"idempotency_key": key, "date": when["day"], "start_time": when["start_time"], "lead_minutes": "15",
            "statuses": ["available", "looking"]}
    confirmed = auth.post("/campaigns", htmx=True, data=form)
    assert confirmed.status_code == 204
    campaign = db.session.scalar(select(Campaign))
    assert confirmed.headers["HX-Redirect"] == f"/campaigns/{campaign.id}"
    assert auth.post("/campaigns", htmx=True, data=form).status_code == 204  # a double click: the same campaign
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    timeline = auth.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in timeline and "Reminder" in timeline and "Ready-check" in timeline
    fragment = auth.get(f"/campaigns/{campaign.id}", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="campaign-timeline"')
    auth.post(f"/campaigns/{campaign.id}/cancel")
    finished = auth.get(f"/campaigns/{campaign.id}", htmx=True).get_data(as_text=True)
    assert "every 2s" not in finished and "cancelled" in finished  # polling stops once it is over


def test_the_dialog_shows_why_it_cannot_promote(auth, promoter, members):
    auth.login("promoter@example.com")
    answer = auth.get("/campaigns/preview?statuses=available&date=2020-01-01&start_time=21:00", htmx=True)
    assert answer.status_code == 422 and "has passed" in answer.get_data(as_text=True)


def test_a_viewer_sees_campaigns_but_cannot_promote(auth, factories, promoter, members):
    factories.user("viewer", "Acme", email="viewer@example.com")
    auth.login("viewer@example.com")
    assert "Promote tonight" not in auth.get("/campaigns").get_data(as_text=True)
    assert auth.get("/campaigns/preview?statuses=available", htmx=True).status_code == 403
    assert auth.post("/campaigns", data=body()).status_code == 403


def test_creating_a_campaign_without_the_csrf_token_is_refused(client, auth, promoter, members, db):
    auth.login("promoter@example.com")
    answer = client.post("/campaigns", data={"statuses": "available"})
    assert answer.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_send_log_names_members_and_channels_never_targets(auth, promoter, members, db, factories):
    from tests.sink import Sink

    with Sink() as sink:
        extra = factories.player(promoter.workspace_id, "extra@example.com", target=sink.target("x"), name="Xena")
        campaign, _ = campaigns.create(promoter, **soon())
        reminder = campaign.jobs[0]
        campaigns.run_job(reminder.id, now=reminder.run_at)
    assert extra
    auth.login("promoter@example.com")
    page = auth.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Xena" in page and "sent" in page
    assert "127.0.0.1" not in page and "relay.example" not in page


# -- the summary channel ----------------------------------------------------------------------------


def test_admin_sets_the_summary_channel_which_is_shown_masked(auth, factories, db):
    factories.user("admin", "Acme", email="boss@example.com")
    auth.login("boss@example.com")
    saved = auth.post("/settings/gamenight/summary-channel", data={"summary_target": SECRET_TARGET},
                      follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Summary channel saved" in text and "json://…4821" in text and "relay.example" not in text
    row = db.session.scalar(select(GamenightSettings))
    assert row.summary_target_sealed and "relay" not in row.summary_target_sealed


def test_a_bad_summary_channel_is_a_400_and_keeps_the_old_one(auth, factories, db):
    factories.user("admin", "Acme", email="boss@example.com")
    auth.login("boss@example.com")
    auth.post("/settings/gamenight/summary-channel", data={"summary_target": SECRET_TARGET})
    answer = auth.post("/settings/gamenight/summary-channel", data={"summary_target": "https://example.com/x"})
    assert answer.status_code == 400 and "Apprise URL" in answer.get_data(as_text=True)
    assert db.session.scalar(select(GamenightSettings.summary_target_hint)) == "json://…4821"


def test_the_campaign_json_never_holds_a_handle_even_after_sending(api, members, db, promoter, factories):
    created = api.post("/api/v1/campaigns", body(dry_run=True)).get_json()
    job = db.session.scalar(select(CampaignJob).where(CampaignJob.campaign_id == created["id"])
                            .order_by(CampaignJob.id))
    assert campaigns.run_job(job.id, now=job.run_at + timedelta(seconds=1)) == "done"
    answer = api.get(f"/api/v1/campaigns/{created['id']}")
    assert answer.get_json()["jobs"][0]["counts"] == {"dry_run": 3}
    assert_no_handle(json.dumps(answer.get_json()))


def test_only_admins_change_game_night_settings_or_the_summary_channel(auth, factories, db, promoter):
    auth.login("promoter@example.com")
    assert auth.post("/settings/gamenight", data={"time_zone": "UTC", "game_start": "20:00",
                                                  "lead_minutes": "10"}).status_code == 403
    assert auth.post("/settings/gamenight/summary-channel",
                     data={"summary_target": SECRET_TARGET}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(GamenightSettings)) == 0
