"""Return to sandbox (live → built): the rooms go back with their ids, the connection exits go, the project is
built again; other rooms' exits into (or out of) the area stop it unless an admin forces it with a reason; the
stale dialog, the preview token, an injected failure, the audit event and the webhook; the API and the dialog."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.drills.database import changes, rows
from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest, Forbidden, Invalid, NotFound
from webapp.extensions import db as _db
from webapp.outbox.models import OutboxEffect
from webapp.worlds import live, promotion, queries, unpromotion
from webapp.worlds.lifecycle import InvalidTransition
from webapp.worlds.models import BuildProject, Exit, ExitName, ProjectStatus, Room, Sandbox


def _area(db, project_id: int) -> dict:
    rooms = db.session.scalars(select(Room).where(Room.id.in_(queries.area_room_ids(1, project_id))).order_by(Room.id))
    return {r.id: (r.handle, r.key, r.name, r.description, r.attributes_json, r.sandbox_id,
                   sorted((t.key, t.category) for t in r.tags)) for r in rooms}


def _exits(db) -> list[tuple[int, int, str]]:
    return sorted(tuple(row) for row in db.session.execute(select(Exit.source_id, Exit.destination_id, Exit.key)))


def _live_area(factories, actor=None, direction: str = "north"):
    """A promoted area (gate, yard, loft) north of Limbo; (admin, limbo, project)."""
    admin = actor or factories.user("admin", "Acme")
    limbo = factories.live_room(admin, "limbo", "Limbo")
    project = factories.build_project(admin)
    promotion.promote(admin, project.id, limbo.id, direction)
    return admin, limbo, queries.get_project(admin, project.id)


def _foreign_exit(admin, source_id: int, destination_id: int, key: str = "east") -> None:
    live.add_exits(admin.workspace_id, [(source_id, destination_id, key, [key[0]])])
    _db.session.commit()


def test_return_to_sandbox_puts_the_same_rooms_back_and_removes_the_connection_exits(factories, db):
    admin, limbo, project = _live_area(factories)
    before = _area(db, project.id)
    inside = [e for e in _exits(db) if limbo.id not in e[:2]]
    result = unpromotion.unpromote(admin, project.id)
    assert result.returned_rooms == 3 and not result.forced
    assert [(e["source"]["id"], e["direction"]) for e in result.removed_exits] == [
        (limbo.id, "north"), (project.entry_room.room_id, "south")]
    db.session.expire_all()
    after = _area(db, project.id)
    assert after.keys() == before.keys()  # the very rooms: same ids
    for room_id, (handle, key, name, description, attributes, sandbox_id, tags) in before.items():
        assert sandbox_id is None and after[room_id][5] == result.sandbox_id
        assert after[room_id][:5] == (handle, key, name, description, attributes)  # attributes byte for byte
        assert after[room_id][6] == sorted([*tags, ("sandbox", "build")])
    assert _exits(db) == inside  # the area's own exits stay; the pair is gone, names too
    assert db.session.scalar(select(func.count()).select_from(ExitName).where(ExitName.source_id == limbo.id)) == 0
    project = db.session.get(BuildProject, project.id)
    assert (project.status, project.sandbox_id, project.promoted_at, project.connection_room_id,
            project.connection_direction) == (ProjectStatus.built, result.sandbox_id, None, None, None)
    assert db.session.get(Sandbox, result.sandbox_id).workspace_id == admin.workspace_id
    assert [r.id for r in queries.live_rooms(admin)] == [limbo.id]  # off the live world, map and exports
    assert result.message == f"'{project.name}' is back in a sandbox: 3 rooms, the 2 connection exits removed."
    assert result.as_json()["status"] == "built"


def test_a_returned_area_can_be_walked_and_promoted_again_elsewhere(factories, db):
    admin, _limbo, project = _live_area(factories)
    unpromotion.unpromote(admin, project.id)
    square = factories.live_room(admin, "square", "Village square")
    again = promotion.promote(admin, project.id, square.id, "east")
    assert again.promoted_rooms == 3
    assert queries.get_project(admin, project.id).status is ProjectStatus.live
    db.session.expire_all()
    assert all(sandbox_id is None and ("sandbox", "build") not in tags
               for *_, sandbox_id, tags in _area(db, project.id).values())


def test_return_is_audited_and_sends_a_world_unpromoted_webhook(factories, db):
    from webapp.webhooks import services as webhooks

    admin = factories.user("admin", "Acme")
    webhooks.create_endpoint(admin, "https://hooks.example/world")
    admin, limbo, project = _live_area(factories, admin)
    result = unpromotion.unpromote(admin, project.id)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "build.unpromoted")).one()
    assert event.details | {"removed_exits": None} == {
        "project_id": project.id, "name": project.name, "rooms": 3, "sandbox_id": result.sandbox_id,
        "connection_room_id": limbo.id, "connection_room": "limbo#01", "direction": "north", "removed_exits": None,
        "forced": False, "foreign_exits": []}
    assert event.details["removed_exits"] == ["Limbo (limbo#01) → north → Mill gate (gate#01)",
                                              "Mill gate (gate#01) → south → Limbo (limbo#01)"]
    hooks = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver")
                               .order_by(OutboxEffect.id)).all()
    assert [h.payload["event"] for h in hooks] == ["world.promoted", "world.unpromoted"]
    assert hooks[1].payload["data"] == event.details


@pytest.mark.parametrize("into_area", [True, False])
def test_another_rooms_exit_into_or_out_of_the_area_is_a_409_listing_it_and_nothing_changes(factories, db,
                                                                                              into_area):
    admin, _limbo, project = _live_area(factories)
    square = factories.live_room(admin, "square", "Village square")
    yard = project.rooms[1].room_id
    _foreign_exit(admin, *((square.id, yard) if into_area else (yard, square.id)))
    before, exits = _area(db, project.id), _exits(db)
    preview = unpromotion.unpromotion_preview(admin, project.id)
    assert [(c.exit.key, c.into_area) for c in preview.boundary.foreign] == [("east", into_area)]
    assert preview.conflicts and "1 exit besides the connection" in preview.conflicts[0]
    with pytest.raises(unpromotion.ForeignExits) as caught:
        unpromotion.unpromote(admin, project.id, preview.token)
    assert caught.value.status == 409 and caught.value.code == "foreign_exits"
    shown = "Village square (square#01) → east → Mill yard (yard#01)" if into_area else \
        "Mill yard (yard#01) → east → Village square (square#01)"
    assert shown in caught.value.message
    assert [e["id"] for e in caught.value.details["foreign_exits"]] == [preview.boundary.foreign[0].exit.id]
    db.session.expire_all()
    assert _area(db, project.id) == before and _exits(db) == exits
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.live


def test_an_admin_forces_the_return_with_a_reason_removing_those_exits_and_saying_so(factories, db):
    admin, _limbo, project = _live_area(factories)
    square = factories.live_room(admin, "square", "Village square")
    yard = project.rooms[1].room_id
    _foreign_exit(admin, square.id, yard)
    token = unpromotion.unpromotion_preview(admin, project.id).token
    result = unpromotion.unpromote(admin, project.id, token, force=True, reason="The mill burnt down.")
    assert result.forced and len(result.removed_exits) == 3
    assert "forced, so 1 other exit removed too: Village square (square#01) → east → Mill yard (yard#01)" in \
        result.message
    assert not [e for e in _exits(db) if square.id in e[:2]]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "build.unpromoted")).one()
    assert event.details["forced"] is True and event.details["reason"] == "The mill burnt down."
    assert event.details["foreign_exits"] == ["Village square (square#01) → east → Mill yard (yard#01)"]
    assert "Village square (square#01) → east → Mill yard (yard#01)" in event.details["removed_exits"]


def test_forcing_needs_an_admin_and_a_reason_and_writes_nothing_otherwise(factories, db):
    admin, _limbo, project = _live_area(factories)
    promoter = factories.user("promoter", "Acme")
    square = factories.live_room(admin, "square", "Village square")
    _foreign_exit(admin, square.id, project.rooms[0].room_id, "west")
    exits = _exits(db)
    assert unpromotion.unpromotion_preview(promoter, project.id).can_force is False
    assert unpromotion.unpromotion_preview(admin, project.id).can_force is True
    with pytest.raises(Forbidden):
        unpromotion.unpromote(promoter, project.id, force=True, reason="Because.")
    for reason in (None, "  ", "x" * 2001):
        with pytest.raises(Invalid) as caught:
            unpromotion.unpromote(admin, project.id, force=True, reason=reason)
        assert caught.value.status == 422 and "reason" in caught.value.details
    with pytest.raises(unpromotion.ForeignExits):
        unpromotion.unpromote(promoter, project.id)
    db.session.expire_all()
    assert _exits(db) == exits and db.session.get(BuildProject, project.id).status is ProjectStatus.live


def test_a_stale_dialog_is_a_409_with_the_fresh_preview_and_a_token_of_another_project_a_400(factories, db):
    admin, limbo, project = _live_area(factories)
    other = factories.build_project(admin)
    promotion.promote(admin, other.id, limbo.id, "east")
    token = unpromotion.unpromotion_preview(admin, project.id).token
    with pytest.raises(BadRequest, match="another project"):
        unpromotion.unpromote(admin, other.id, token)
    with pytest.raises(BadRequest, match="not valid"):
        unpromotion.unpromote(admin, project.id, "forged")
    square = factories.live_room(admin, "square", "Village square")
    _foreign_exit(admin, square.id, project.rooms[2].room_id)  # someone links a room into the loft meanwhile
    with pytest.raises(promotion.WorldChanged) as caught:
        unpromotion.unpromote(admin, project.id, token, force=True, reason="Closing it.")
    assert caught.value.status == 409 and caught.value.code == "world_changed"
    fresh = caught.value.details
    assert fresh["preview_token"] != token and [e["source"]["id"] for e in fresh["foreign_exits"]] == [square.id]
    assert queries.get_project(admin, project.id).status is ProjectStatus.live
    assert unpromotion.unpromote(admin, project.id, fresh["preview_token"], force=True,
                                 reason="Closing it.").returned_rooms == 3


def test_an_unchanged_dialog_token_returns_the_area(factories):
    admin, _limbo, project = _live_area(factories)
    token = unpromotion.unpromotion_preview(admin, project.id).token
    assert unpromotion.unpromote(admin, project.id, token).returned_rooms == 3


def test_roles_state_and_tenancy_come_first(factories):
    admin, _limbo, project = _live_area(factories)
    built = factories.build_project(admin)
    for role in ("viewer", "editor"):
        with pytest.raises(Forbidden):
            unpromotion.unpromotion_preview(factories.user(role, "Acme"), project.id)
        with pytest.raises(Forbidden):
            unpromotion.unpromote(factories.user(role, "Acme"), project.id)
    with pytest.raises(InvalidTransition, match="allowed from built: promote"):
        unpromotion.unpromote(admin, built.id)
    with pytest.raises(NotFound):
        unpromotion.unpromote(factories.user("admin", "Elsewhere"), project.id)
    promoter = factories.user("promoter", "Acme")  # promoters may, as they may promote
    assert unpromotion.unpromote(promoter, project.id).returned_rooms == 3


def test_an_injected_failure_rolls_everything_back_and_a_retry_succeeds(factories, db, monkeypatch):
    admin, _limbo, project = _live_area(factories)
    before, exits = _area(db, project.id), _exits(db)
    sandboxes = db.session.scalar(select(func.count()).select_from(Sandbox))

    def fail(project_id):
        raise RuntimeError("disk full")

    monkeypatch.setattr(unpromotion.announcements, "cancel_pending", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        unpromotion.unpromote(admin, project.id)
    db.session.expire_all()
    assert _area(db, project.id) == before and _exits(db) == exits
    assert db.session.scalar(select(func.count()).select_from(Sandbox)) == sandboxes
    assert db.session.get(BuildProject, project.id).status is ProjectStatus.live
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "build.unpromoted")) == 0
    monkeypatch.undo()
    assert unpromotion.unpromote(admin, project.id).returned_rooms == 3


def test_an_area_whose_connection_room_was_removed_still_returns(factories, db):
    admin, limbo, project = _live_area(factories)
    db.session.execute(ExitName.__table__.delete().where(ExitName.source_id == limbo.id))
    db.session.execute(Exit.__table__.delete().where(Exit.destination_id == limbo.id))
    db.session.execute(Exit.__table__.delete().where(Exit.source_id == limbo.id))
    db.session.get(BuildProject, project.id).connection_room_id = None
    db.session.delete(db.session.get(Room, limbo.id))
    db.session.commit()
    preview = unpromotion.unpromotion_preview(admin, project.id)
    assert preview.connection is None and preview.boundary.connection == [] and preview.conflicts == []
    result = unpromotion.unpromote(admin, preview.project.id, preview.token)
    assert result.returned_rooms == 3 and result.removed_exits == []
    assert "no connection exits removed" in result.message


def test_another_areas_connection_into_this_one_is_foreign(factories):
    admin, _limbo, project = _live_area(factories)
    other = factories.build_project(admin)
    promotion.promote(admin, other.id, project.rooms[2].room_id, "east")  # connected east of the loft
    preview = unpromotion.unpromotion_preview(admin, project.id)
    assert sorted(c.into_area for c in preview.boundary.foreign) == [False, True]
    with pytest.raises(unpromotion.ForeignExits):
        unpromotion.unpromote(admin, project.id)


def test_even_forced_a_return_never_cuts_off_another_live_area_connected_to_it(factories, db):
    admin, _limbo, project = _live_area(factories)
    other = factories.build_project(admin)
    promotion.promote(admin, other.id, project.rooms[2].room_id, "east")  # connected east of the loft
    before = rows(db)
    with pytest.raises(unpromotion.ForeignExits) as refused:
        unpromotion.unpromote(admin, project.id, force=True, reason="rebuilding the mill")
    assert repr(other.name) in refused.value.message and "return it to the sandbox first" in refused.value.message
    assert refused.value.details["connected_areas"] == [{"id": other.id, "name": other.name}]
    assert changes(before, rows(db)) == {}


# -- over the API and in the dialog -----------------------------------------------------------------


def test_the_api_previews_and_returns_an_area(client, factories, db):
    promoter = factories.user("promoter", "Acme")
    headers = {"Authorization": f"Bearer {factories.personal_token(promoter)}"}
    _admin, limbo, project = _live_area(factories)
    preview = client.get(f"/api/v1/builds/{project.id}/unpromotion-preview", headers=headers)
    assert preview.status_code == 200
    body = preview.get_json()
    assert body["room_count"] == 3 and body["foreign_exits"] == [] and body["can_force"] is False
    assert body["connection_room"]["id"] == limbo.id and body["connection_direction"] == "north"
    assert [e["direction"] for e in body["connection_exits"]] == ["north", "south"]
    answer = client.post(f"/api/v1/builds/{project.id}/unpromote", headers=headers,
                         json={"preview_token": body["preview_token"]})
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert result["status"] == "built" and result["returned_rooms"] == 3 and result["forced"] is False
    assert result["message"].startswith(f"{project.name!r} is back in a sandbox")
    assert client.get(f"/api/v1/builds/{project.id}", headers=headers).get_json()["status"] == "built"
    again = client.post(f"/api/v1/builds/{project.id}/unpromote", headers=headers, json={})
    assert again.status_code == 409 and again.get_json()["error"] == "invalid_transition"


def test_the_api_answers_409_foreign_exits_403_force_and_422_without_a_reason(client, factories, db):
    admin, _limbo, project = _live_area(factories)
    square = factories.live_room(admin, "square", "Village square")
    _foreign_exit(admin, square.id, project.rooms[1].room_id)
    promoter = {"Authorization": f"Bearer {factories.personal_token(factories.user('promoter', 'Acme'))}"}
    boss = {"Authorization": f"Bearer {factories.personal_token(admin)}"}
    url = f"/api/v1/builds/{project.id}/unpromote"
    refused = client.post(url, headers=promoter, json={})
    assert refused.status_code == 409 and refused.get_json()["error"] == "foreign_exits"
    assert refused.get_json()["details"]["foreign_exits"][0]["source"]["handle"] == "square#01"
    assert client.post(url, headers=promoter, json={"force": True, "reason": "x"}).status_code == 403
    assert client.post(url, headers=boss, json={"force": True}).status_code == 422
    assert client.post(url, headers=boss, json={"force": "yes", "reason": "x"}).status_code == 400
    assert queries.get_project(admin, project.id).status is ProjectStatus.live
    forced = client.post(url, headers=boss, json={"force": True, "reason": "Rebuilding the yard."})
    assert forced.status_code == 200 and forced.get_json()["forced"] is True
    assert len(forced.get_json()["removed_exits"]) == 3


def test_the_dialog_shows_what_will_happen_and_returns_the_area(auth, factories, db):
    _admin, _limbo, project = _live_area(factories, factories.user("admin", "Acme", email="boss@example.com"))
    auth.login("boss@example.com")
    page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert "Return to sandbox" in page
    dialog = auth.get(f"/builds/{project.id}/unpromote", htmx=True).get_data(as_text=True)
    assert "<html" not in dialog and 'class="room-count">3<' in dialog
    assert "Limbo <code>limbo#01</code> → <strong>north</strong> → Mill gate" in dialog
    assert not re.search(r'<button type="submit"\s+disabled', dialog)
    token = re.search(r'name="preview_token" value="([^"]+)"', dialog).group(1)
    answer = auth.post(f"/builds/{project.id}/unpromote", htmx=True, data={"preview_token": token})
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == f"/builds/{project.id}"
    page = auth.get(answer.headers["HX-Redirect"]).get_data(as_text=True)
    assert "is back in a sandbox" in page and "Preview promotion" in page


def test_the_dialog_refuses_a_promoter_over_foreign_exits_and_offers_an_admin_the_force(auth, factories, db):
    admin, _limbo, project = _live_area(factories)
    square = factories.live_room(admin, "square", "Village square")
    _foreign_exit(admin, square.id, project.rooms[1].room_id)
    factories.user("promoter", "Acme", email="pro@example.com")
    auth.login("pro@example.com")
    dialog = auth.get(f"/builds/{project.id}/unpromote", htmx=True).get_data(as_text=True)
    assert "Other exits join this area to the world" in dialog and "Village square" in dialog
    assert re.search(r'<button type="submit"\s+disabled', dialog) and 'name="force"' not in dialog
    token = re.search(r'name="preview_token" value="([^"]+)"', dialog).group(1)
    refused = auth.post(f"/builds/{project.id}/unpromote", htmx=True, data={"preview_token": token})
    assert refused.status_code == 409 and "an admin forces the return" in refused.get_data(as_text=True)
    auth.logout()
    factories.user("admin", "Acme", email="boss@example.com")
    auth.login("boss@example.com")
    dialog = auth.get(f"/builds/{project.id}/unpromote", htmx=True).get_data(as_text=True)
    assert 'name="force"' in dialog and 'name="reason"' in dialog
    token = re.search(r'name="preview_token" value="([^"]+)"', dialog).group(1)
    missing = auth.post(f"/builds/{project.id}/unpromote", htmx=True, data={"preview_token": token, "force": "on"})
    assert missing.status_code == 422 and "Say why the return is forced" in missing.get_data(as_text=True)
    forced = auth.post(f"/builds/{project.id}/unpromote", htmx=True,
                       data={"preview_token": token, "force": "on", "reason": "Rebuilding."})
    assert forced.status_code == 204
    assert queries.get_project(admin, project.id).status is ProjectStatus.built


def test_viewers_and_editors_get_no_dialog(auth, factories):
    _admin, _limbo, project = _live_area(factories)
    for role in ("viewer", "editor"):
        factories.user(role, "Acme", email=f"{role}@example.com")
        auth.login(f"{role}@example.com")
        assert "Return to sandbox" not in auth.get(f"/builds/{project.id}").get_data(as_text=True)
        assert auth.get(f"/builds/{project.id}/unpromote", htmx=True).status_code == 403
        assert auth.post(f"/builds/{project.id}/unpromote", htmx=True, data={}).status_code == 403
        auth.logout()


# -- races (PostgreSQL, where row locks decide them) ------------------------------------------------------------


def test_several_returns_of_one_area_at_once_give_one_200_and_409s(app, db, factories):
    from collections import Counter

    from tests.races import race, require_postgres

    require_postgres(db)
    admin, _limbo, project = _live_area(factories)
    token = unpromotion.unpromotion_preview(admin, project.id).token
    url = f"/api/v1/builds/{project.id}/unpromote"
    results = race(app, [(url, {"preview_token": token})] * 6, factories.personal_token(admin))
    assert Counter(status for status, _ in results) == {200: 1, 409: 5}, results
    db.session.expire_all()
    sandboxes = {sandbox_id for *_, sandbox_id, _tags in _area(db, project.id).values()}
    assert sandboxes == {db.session.get(BuildProject, project.id).sandbox_id}  # one sandbox holds them all


def test_a_return_racing_a_promotion_into_one_of_its_rooms_never_lets_both_through(app, db, factories):
    from tests.races import race, require_postgres

    require_postgres(db)
    admin, _limbo, project = _live_area(factories)
    other = factories.build_project(admin)
    loft = project.rooms[2].room_id
    token = factories.personal_token(admin)
    results = race(app, [(f"/api/v1/builds/{project.id}/unpromote", {}),
                         (f"/api/v1/builds/{other.id}/promote",
                          {"connection_room_id": loft, "connection_direction": "east"})], token)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    db.session.expire_all()
    # whoever won, no exit joins a live room and a sandbox room
    rooms = {r.id: r.sandbox_id for r in db.session.scalars(select(Room))}
    assert all((rooms[e.source_id] is None) == (rooms[e.destination_id] is None) for e in db.session.scalars(
        select(Exit)))
