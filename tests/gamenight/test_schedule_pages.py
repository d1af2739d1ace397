"""Weekly game nights in the dashboard and over JSON: a promoter sets one and sees its nights, skips a night and
deletes the schedule in the shared confirm dialog; the API's contract shape, bad input answered 4xx writing
nothing, roles and tenancy."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.gamenight import schedules
from webapp.gamenight.models import Campaign, NightSchedule, NightStatus, ScheduledNight

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def api(client, promoter, factories):
    token = factories.personal_token(promoter)
    headers = {"Authorization": f"Bearer {token}"}

    class Api:
        def post(self, url: str, body: dict | None = None):
            return client.post(url, json=body if body is not None else {}, headers=headers)

        def get(self, url: str):
            return client.get(url, headers=headers)

    return Api()


# -- the dashboard ----------------------------------------------------------------------------------


def test_a_promoter_sets_a_weekly_night_and_sees_each_night_of_the_next_two_weeks(auth, promoter, db):
    auth.login("promoter@example.com")
    page = auth.get("/schedules").get_data(as_text=True)
    assert "New weekly game night" in page
    answer = auth.post("/schedules", data={"weekdays": ALL_DAYS, "statuses": ["available", "looking"],
                                           "start_time": "21:30", "lead_minutes": "15", "hours_ahead": "24",
                                           "min_ready": ""})
    schedule = db.session.scalar(select(NightSchedule))
    listed = auth.get("/schedules").get_data(as_text=True)
    assert f'href="/schedules/{schedule.id}">Mon, Tue, Wed, Thu, Fri, Sat, Sun</a>' in listed
    assert schedule.nights[0].local_day.isoformat() in listed.split('class="next-night"', 1)[1][:200]
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/schedules/{schedule.id}")
    assert schedule.start_time == "21:30" and schedule.min_ready is None and schedule.hours_ahead == 24
    shown = auth.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert shown.count('class="badge night-status status-pending"') == len(schedule.nights) >= 13
    assert "Skip" in shown and "Delete schedule" in shown
    fragment = auth.get(f"/schedules/{schedule.id}", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="schedule-nights"')


def test_a_form_without_a_weekday_is_a_422_with_the_reason_and_writes_nothing(auth, promoter, db):
    auth.login("promoter@example.com")
    answer = auth.post("/schedules", data={"statuses": ["available"], "start_time": "21:00"})
    assert answer.status_code == 422
    assert "mon, tue, wed" in answer.get_data(as_text=True)
    assert count(db, NightSchedule) == 0


def test_skipping_a_night_asks_in_the_confirm_dialog_then_skips_it(auth, promoter, db):
    schedule = schedules.create(promoter, schedules.ScheduleCommand(weekdays=ALL_DAYS))
    night = schedule.nights[-1]
    auth.login("promoter@example.com")
    dialog = auth.get(f"/scheduled-nights/{night.id}/skip", htmx=True).get_data(as_text=True)
    assert "Skip the game night of" in dialog and "Keep it" in dialog and "<html" not in dialog
    assert db.session.get(ScheduledNight, night.id).status is NightStatus.pending  # asking changed nothing
    done = auth.post(f"/scheduled-nights/{night.id}/skip", htmx=True)
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/schedules/{schedule.id}"
    db.session.expire_all()
    assert db.session.get(ScheduledNight, night.id).status is NightStatus.skipped
    again = auth.get(f"/scheduled-nights/{night.id}/skip", htmx=True)
    assert again.status_code == 409 and "only a pending night" in again.get_data(as_text=True)


def _created_night(db, promoter, factories, sink) -> ScheduledNight:
    """The next Friday of a schedule, its campaign created, with one member `a` at the sink."""
    schedule = schedules.create(promoter, schedules.ScheduleCommand(weekdays=["fri"]))
    night = schedule.nights[0]
    factories.player(promoter.workspace_id, "a@example.com", day=night.local_day, target=sink.target("a"))
    assert schedules.run_night(night.id, now=night.create_at) == "created"
    db.session.refresh(night)
    return night


def test_the_skip_dialog_says_nobody_is_told_before_the_reminder_and_the_skip_cancels_quietly(
        auth, promoter, factories, db, sink):
    night = _created_night(db, promoter, factories, sink)
    auth.login("promoter@example.com")
    dialog = auth.get(f"/scheduled-nights/{night.id}/skip", htmx=True).get_data(as_text=True)
    assert "nobody has been told yet" in dialog and "called off" not in dialog
    done = auth.post(f"/scheduled-nights/{night.id}/skip", htmx=True)
    assert done.status_code == 204
    db.session.expire_all()
    campaign = db.session.get(Campaign, night.campaign_id)
    assert campaign.status.value == "cancelled" and campaign.called_off_at is None
    assert "is skipped." in auth.get(f"/schedules/{night.schedule_id}").get_data(as_text=True)


def test_the_skip_dialog_says_everyone_is_told_after_the_reminder_and_the_skip_calls_the_night_off(
        auth, promoter, factories, db, sink):
    from tests.gamenight.steps import job, run
    from webapp.gamenight import campaign_runs
    from webapp.gamenight.models import JobKind

    night = _created_night(db, promoter, factories, sink)
    assert run(db, db.session.get(Campaign, night.campaign_id), JobKind.reminder) == "done"
    auth.login("promoter@example.com")
    dialog = auth.get(f"/scheduled-nights/{night.id}/skip", htmx=True).get_data(as_text=True)
    assert "everyone who got the reminder is told it is called off" in dialog
    assert "nobody has been told yet" not in dialog
    assert db.session.get(Campaign, night.campaign_id).called_off_at is None  # asking changed nothing
    assert auth.post(f"/scheduled-nights/{night.id}/skip", htmx=True).status_code == 204
    assert "it is called off" in auth.get(f"/schedules/{night.schedule_id}").get_data(as_text=True)
    db.session.expire_all()
    campaign = db.session.get(Campaign, night.campaign_id)
    assert campaign.called_off_at is not None
    campaign_runs.run_job(job(campaign, JobKind.called_off).id)
    assert [p["title"] for p in sink.received("a")] == ["Game night soon", "Game night called off"]


def test_the_form_sets_a_schedules_quorum_and_the_pages_show_it(auth, promoter, db):
    auth.login("promoter@example.com")
    assert 'name="min_players"' in auth.get("/schedules").get_data(as_text=True)
    auth.post("/schedules", data={"weekdays": ["fri"], "statuses": ["available", "looking"], "min_ready": "2",
                                  "min_players": "4"})
    schedule = db.session.scalar(select(NightSchedule))
    assert schedule.min_players == 4 and schedule.min_ready == 2
    assert "quorum 4 players at the reminder" in auth.get(f"/schedules/{schedule.id}").get_data(as_text=True)


@pytest.mark.parametrize("bad", ["0", "501", "four", "2.5"])
def test_a_form_with_a_bad_min_players_is_a_400_and_writes_nothing(auth, promoter, db, bad):
    auth.login("promoter@example.com")
    answer = auth.post("/schedules", data={"weekdays": ["fri"], "statuses": ["available"], "min_players": bad})
    assert answer.status_code == 400 and "min_players" in answer.get_data(as_text=True)
    assert count(db, NightSchedule) == 0 and count(db, ScheduledNight) == 0


def test_deleting_a_schedule_asks_first_and_a_viewer_may_not(auth, promoter, factories, db):
    schedule = schedules.create(promoter, schedules.ScheduleCommand(weekdays=["fri"]))
    factories.user("viewer", "Acme", email="viewer@example.com")
    auth.login("viewer@example.com")
    assert auth.get(f"/schedules/{schedule.id}").status_code == 200
    assert auth.post(f"/schedules/{schedule.id}/delete").status_code == 403
    auth.logout()
    auth.login("promoter@example.com")
    dialog = auth.get(f"/schedules/{schedule.id}/delete", htmx=True).get_data(as_text=True)
    assert "Delete this weekly game night" in dialog and "pending night" in dialog
    assert auth.post(f"/schedules/{schedule.id}/delete", htmx=True).status_code == 204
    assert count(db, NightSchedule) == 0


def test_pausing_and_resuming_from_the_page(auth, promoter, db):
    schedule = schedules.create(promoter, schedules.ScheduleCommand(weekdays=["fri"]))
    auth.login("promoter@example.com")
    assert auth.post(f"/schedules/{schedule.id}/pause").status_code == 303
    db.session.expire_all()
    assert db.session.get(NightSchedule, schedule.id).paused
    assert "Resume" in auth.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    auth.post(f"/schedules/{schedule.id}/resume")
    db.session.expire_all()
    assert not db.session.get(NightSchedule, schedule.id).paused


# -- the JSON API ---------------------------------------------------------------------------------


def test_create_answers_201_with_the_schedule_and_its_nights(api, db):
    answer = api.post("/api/v1/schedules", {"weekdays": ["fri", "sat"], "start_time": "20:00", "min_ready": 4})
    assert answer.status_code == 201
    data = answer.get_json()
    assert data["weekdays"] == ["fri", "sat"] and data["start_time"] == "20:00" and data["min_ready"] == 4
    assert data["hours_ahead"] == 24 and data["statuses"] == ["available", "looking"]
    assert data["zone"] == "Europe/Ljubljana" and 3 <= len(data["nights"]) <= 4
    assert all(n["status"] == "pending" and n["start_at"].endswith("+00:00") for n in data["nights"])
    listed = api.get("/api/v1/schedules").get_json()["schedules"]
    assert [s["id"] for s in listed] == [data["id"]]
    assert api.get(f"/api/v1/schedules/{data['id']}").get_json()["nights"] == data["nights"]


def test_the_api_takes_min_players_and_each_nights_campaign_carries_it(api, db, promoter, factories):
    created = api.post("/api/v1/schedules", {"weekdays": ["fri"], "min_players": 3, "min_ready": 1})
    assert created.status_code == 201
    data = created.get_json()
    assert data["min_players"] == 3 and data["min_ready"] == 1
    assert api.get("/api/v1/schedules").get_json()["schedules"][0]["min_players"] == 3
    assert api.post("/api/v1/schedules", {"weekdays": ["sat"]}).get_json()["min_players"] is None
    night = db.session.get(ScheduledNight, data["nights"][0]["id"])
    factories.player(promoter.workspace_id, "p@example.com", day=night.local_day)  # the one ready
    assert schedules.run_night(night.id, now=night.create_at) == "created"
    campaign_id = api.get(f"/api/v1/schedules/{data['id']}").get_json()["nights"][0]["campaign_id"]
    assert api.get(f"/api/v1/campaigns/{campaign_id}").get_json()["min_players"] == 3


def test_skip_pause_resume_and_delete_over_the_api(api, db):
    created = api.post("/api/v1/schedules", {"weekdays": ALL_DAYS}).get_json()
    night = created["nights"][-1]
    skipped = api.post(f"/api/v1/scheduled-nights/{night['id']}/skip")
    assert skipped.status_code == 200 and skipped.get_json()["status"] == "skipped"
    assert api.post(f"/api/v1/scheduled-nights/{night['id']}/skip").status_code == 409
    assert api.post(f"/api/v1/schedules/{created['id']}/pause").get_json()["paused"] is True
    assert api.post(f"/api/v1/schedules/{created['id']}/resume").get_json()["paused"] is False
    assert api.post(f"/api/v1/schedules/{created['id']}/delete").get_json() == {"deleted": created["id"]}
    assert api.get(f"/api/v1/schedules/{created['id']}").status_code == 404


@pytest.mark.parametrize(("body", "status"), [
    ({}, 400), ({"weekdays": []}, 422), ({"weekdays": ["fri"], "start_time": "9pm"}, 400),
    ({"weekdays": ["fri"], "hours_ahead": "24"}, 200), ({"weekdays": ["fri"], "hours_ahead": True}, 400),
    ({"weekdays": ["fri"], "lead_minutes": 241}, 400), ({"weekdays": ["fri"], "statuses": []}, 422),
    ({"weekdays": ["fri"], "hours_ahead": 2, "lead_minutes": 120}, 422), ({"weekdays": ["fri"], "extra": 1}, 400),
    ({"weekdays": [{"day": "fri"}]}, 400), ({"weekdays": ["fri"], "min_players": 0}, 400),
    ({"weekdays": ["fri"], "min_players": 501}, 400), ({"weekdays": ["fri"], "min_players": True}, 400),
    ({"weekdays": ["fri"], "min_players": "x"}, 400), ({"weekdays": ["fri"], "min_players": 2.5}, 400),
])
def test_bad_input_is_a_4xx_and_writes_nothing(api, db, body, status):
    answer = api.post("/api/v1/schedules", body)
    if status == 200:  # a number as digits is a number, as everywhere in the API
        assert answer.status_code == 201
        return
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.get_json()["error"] in ("bad_request", "invalid")
    assert count(db, NightSchedule) == 0 and count(db, ScheduledNight) == 0


def test_an_editor_token_can_read_but_not_set_or_skip(client, factories, promoter, db):
    editor = factories.user("editor", "Acme", email="ed@example.com")
    headers = {"Authorization": f"Bearer {factories.personal_token(editor)}"}
    assert client.post("/api/v1/schedules", json={"weekdays": ["fri"]}, headers=headers).status_code == 403
    schedule = schedules.create(promoter, schedules.ScheduleCommand(weekdays=["fri"]))
    assert client.get(f"/api/v1/schedules/{schedule.id}", headers=headers).status_code == 200
    assert client.post(f"/api/v1/scheduled-nights/{schedule.nights[0].id}/skip", headers=headers).status_code == 403
    assert count(db, Campaign) == 0


def test_another_workspaces_schedule_is_a_404(client, factories, promoter, db):
    schedule = schedules.create(promoter, schedules.ScheduleCommand(weekdays=["fri"]))
    other = factories.user("promoter", "Globex", email="g@example.com")
    headers = {"Authorization": f"Bearer {factories.personal_token(other)}"}
    assert client.get(f"/api/v1/schedules/{schedule.id}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/scheduled-nights/{schedule.nights[0].id}/skip", headers=headers).status_code == 404
    assert client.get("/api/v1/schedules", headers=headers).get_json() == {"schedules": []}


@pytest.mark.parametrize("url", ["/api/v1/schedules", "/api/v1/campaigns/preview"])
def test_a_null_lead_is_the_default_lead_not_a_500(api, url):
    answer = api.post(url, {"weekdays": ["fri"], "lead_minutes": None} if "schedules" in url else
                      {"date": "tomorrow", "lead_minutes": None})
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    assert answer.get_json()["lead_minutes"] == 15
