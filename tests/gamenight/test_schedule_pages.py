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
    ({"weekdays": [{"day": "fri"}]}, 400),
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
