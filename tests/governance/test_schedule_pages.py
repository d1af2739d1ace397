"""Scheduled promotions through the JSON API and the dashboard: create, list and cancel with a personal token; the
confirm dialogs' "Promote at" field (labelled with the workspace's zone) and the "Scheduled" list with its Cancel
button on the process page and the build page; bad input a 4xx that writes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import bearer
from tests.governance.test_requests import sandbox_version
from tests.governance.test_schedules import local
from webapp.extensions import utcnow
from webapp.governance.models import ScheduledPromotion, ScheduleState
from webapp.processes import promotion


def count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(ScheduledPromotion))


def when(minutes: int = 30) -> dict[str, str]:
    day, clock = local(utcnow() + timedelta(minutes=minutes))
    return {"date": day.isoformat(), "time": f"{clock:%H:%M}"}


def test_the_api_creates_lists_by_process_and_cancels_a_schedule(db, team, factories, client):
    _admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    token = promotion.promotion_preview(alice, version.id).token
    created = client.post("/api/v1/scheduled-promotions", headers=bearer(factories.personal_token(alice)),
                          json={"flow": "process", "source": version.id, "preview_token": token, **when()})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["state"] == "scheduled" and body["process_id"] == version.process_id
    assert body["created_by"] == "alice@example.com"
    bobs = bearer(factories.personal_token(bob))
    listed = client.get(f"/api/v1/scheduled-promotions?process_id={version.process_id}&state=scheduled",
                        headers=bobs).get_json()
    assert [r["id"] for r in listed["scheduled_promotions"]] == [body["id"]]
    assert client.get("/api/v1/scheduled-promotions?build_project_id=99", headers=bobs).get_json() == {
        "scheduled_promotions": []}
    cancelled = client.post(f"/api/v1/scheduled-promotions/{body['id']}/cancel", headers=bobs)
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    again = client.post(f"/api/v1/scheduled-promotions/{body['id']}/cancel", headers=bobs)
    assert again.status_code == 409 and again.get_json()["error"] == "schedule_not_scheduled"


def test_the_api_answers_bad_input_with_a_4xx_and_writes_nothing(db, team, factories, client):
    _admin, alice, _bob, eve = team
    version = sandbox_version(factories, alice)
    headers = bearer(factories.personal_token(alice))
    past = when(-60)
    cases = [
        ({"flow": "process", "source": version.id, **past}, 422),
        ({"flow": "process", "source": version.id, "date": "2026-02-30", "time": "10:00"}, 400),
        ({"flow": "process", "source": version.id, "date": when()["date"], "time": "25:61"}, 400),
        ({"flow": "process", "source": "x", **when()}, 400),
        ({"flow": "world", "source": [1, 2], **when()}, 400),
        ({"flow": "process", "source": 999_999, **when()}, 404),
        ({"flow": "process", **when()}, 422),
        ({"request_id": 999_999, **when()}, 404),
    ]
    for body, status in cases:
        answer = client.post("/api/v1/scheduled-promotions", headers=headers, json=body)
        assert answer.status_code == status, (body, answer.get_json())
        assert answer.get_json()["message"]
    editor = client.post("/api/v1/scheduled-promotions", headers=bearer(factories.personal_token(eve)),
                         json={"flow": "process", "source": version.id, **when()})
    assert editor.status_code == 403
    stranger = factories.user("admin", "Other", email="stranger@example.com")
    row = client.post("/api/v1/scheduled-promotions", headers=headers,
                      json={"flow": "process", "source": version.id, **when()}).get_json()
    elsewhere = client.post(f"/api/v1/scheduled-promotions/{row['id']}/cancel",
                            headers=bearer(factories.personal_token(stranger)))
    assert elsewhere.status_code == 404
    assert count(db) == 1 and db.session.get(ScheduledPromotion, row["id"]).state is ScheduleState.scheduled


def test_the_process_dialog_has_promote_at_in_the_zone_and_schedules_into_the_pages_list(db, team, factories, auth):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    auth.login("alice@example.com")
    dialog = auth.get(f"/versions/{version.id}/promote", htmx=True).get_data(as_text=True)
    assert "Promote at" in dialog and "Europe/Ljubljana" in dialog and 'name="version_id"' in dialog
    token = promotion.promotion_preview(alice, version.id).token
    answer = auth.post("/scheduled-promotions", htmx=True, data={
        "flow": "process", "version_id": str(version.id), "preview_token": token, "change_notes": "", **when()})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["HX-Retarget"] == "#scheduled-promotions" and "closeDialog" in answer.headers["HX-Trigger"]
    assert "Support bot v3 → production" in answer.get_data(as_text=True)
    page = auth.get(f"/processes/{version.process.slug}").get_data(as_text=True)
    assert 'id="scheduled-promotions"' in page and "Cancel" in page
    row = db.session.scalar(select(ScheduledPromotion))
    cancelled = auth.post(f"/scheduled-promotions/{row.id}/cancel", htmx=True)
    assert cancelled.status_code == 200 and "cancelled" in cancelled.get_data(as_text=True)
    assert db.session.get(ScheduledPromotion, row.id).state is ScheduleState.cancelled


def test_the_dialog_shows_why_a_schedule_is_refused_and_nothing_is_written(db, team, factories, auth):
    _admin, alice, _bob, _eve = team
    version = sandbox_version(factories, alice)
    auth.login("alice@example.com")
    answer = auth.post("/scheduled-promotions", htmx=True, data={
        "flow": "process", "version_id": str(version.id), **when(-60)})
    assert answer.status_code == 422 and "has passed" in answer.get_data(as_text=True)
    assert count(db) == 0


def test_the_build_page_lists_a_scheduled_area_and_its_dialog_offers_promote_at(db, team, factories, auth):
    admin, alice, _bob, _eve = team
    project = factories.build_project(alice)
    room = factories.live_room(admin)
    auth.login("alice@example.com")
    dialog = auth.get(f"/builds/{project.id}/promote?connection_room_id={room.id}&direction=north",
                      htmx=True).get_data(as_text=True)
    assert "Promote at" in dialog and 'name="project_id"' in dialog
    answer = auth.post("/scheduled-promotions", data={
        "flow": "world", "project_id": str(project.id), "connection_room_id": str(room.id), "direction": "north",
        **when()})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/builds/{project.id}")
    page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert 'id="scheduled-promotions"' in page and "→ live, north of" in page


def test_a_gated_dialog_offers_no_promote_at_and_an_approved_requests_review_page_schedules_it(
        db, team, factories, auth):
    from webapp.governance import services as governance
    from webapp.governance.models import Decision

    admin, alice, bob, _eve = team
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", governance.PolicyCommand(required_approvals=1))
    auth.login("alice@example.com")
    dialog = auth.get(f"/versions/{version.id}/promote").get_data(as_text=True)
    assert "Request promotion" in dialog and "Or promote later" not in dialog  # scheduling waits for the approval
    request = governance.request_promotion(alice, governance.RequestCommand(
        flow="process", source=version.id, preview_token=promotion.promotion_preview(alice, version.id).token))
    assert "Apply it later" not in auth.get(f"/reviews/{request.id}").get_data(as_text=True)  # not approved yet
    governance.decide(bob, request.id, Decision.approve)
    page = auth.get(f"/reviews/{request.id}").get_data(as_text=True)
    assert "Apply it later" in page and f'name="request_id" value="{request.id}"' in page
    answer = auth.post("/scheduled-promotions", htmx=True, data={"request_id": str(request.id), **when()})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [row] = db.session.scalars(select(ScheduledPromotion)).all()
    assert row.request_id == request.id and row.state is ScheduleState.scheduled
    page = auth.get(f"/reviews/{request.id}").get_data(as_text=True)
    assert f'(applies <a href="/reviews/{request.id}">the approved request</a>)' in page  # a link, not "#12"
    assert f"#{request.id}" not in page
