"""Building the sandbox: the rooms dug tagged and hidden from the live world, handles counting up; walking it is
for the project's owner, promoters and admins only (404 to anyone else, on the page and over the API)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.worlds import design, lifecycle, queries, sandbox
from webapp.worlds.models import Exit, ExitName, Room


def test_build_digs_the_rooms_in_a_sandbox_tagged_and_hidden_from_live_rooms(factories, db):
    admin = factories.user("admin")
    factories.live_room(admin, "limbo")
    project = factories.build_project(admin)
    rooms = db.session.scalars(select(Room).where(Room.sandbox_id == project.sandbox_id)).all()
    assert sorted(r.key for r in rooms) == ["gate", "loft", "yard"]
    assert [r.handle for r in sorted(rooms, key=lambda r: r.id)] == ["gate#01", "yard#01", "loft#01"]
    for room in rooms:
        tags = {(t.key, t.category) for t in room.tags}
        assert {("sandbox", "build"), ("web_builder", "build"), (f"project_{project.id}", "build")} <= tags
    assert [r.key for r in queries.live_rooms(admin)] == ["limbo"]
    assert db.session.scalar(select(func.count()).select_from(Exit)) == 4
    # the bulk statements keep each design bound to its own room, and each exit to its names
    for built in queries.get_project(admin, project.id).rooms:
        assert db.session.get(Room, built.room_id).key == built.key
    for exit_ in db.session.scalars(select(Exit)):
        named = set(db.session.scalars(select(ExitName.name).where(ExitName.exit_id == exit_.id)))
        assert named == {exit_.key, *exit_.aliases} and exit_.source_id in {r.id for r in rooms}


def test_handles_count_up_per_key_across_builds(factories):
    admin = factories.user("admin")
    first, second = factories.build_project(admin), factories.build_project(admin)
    handles = {r.handle for p in (first, second) for r in queries.get_project(admin, p.id).rooms
               for r in [queries.get_room(admin, r.room_id)]}
    assert {"gate#01", "gate#02", "yard#01", "yard#02"} <= handles


# -- who may walk it: the project's owner, promoters and admins; anyone else is told it is not there --------


@pytest.fixture
def walkers(factories):
    """A built project of Acme's `owner` (an editor), and one member of every other kind."""
    owner = factories.user("editor", "Acme", email="owner@example.com")
    approver = factories.user("promoter", "Acme", email="promoter@example.com")
    project = design.create_project(owner, "Mill", "", factories.AREA)
    lifecycle.transition(owner, project.id, "submit")
    lifecycle.transition(approver, project.id, "approve")
    sandbox.build_sandbox(owner, project.id)
    for role in ("viewer", "editor", "admin"):
        factories.user(role, "Acme", email=f"{role}@example.com")
    limbo = factories.live_room(factories.user("admin", "Acme"))
    return queries.get_project(owner, project.id), limbo


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("promoter", 200), ("admin", 200),
                                             ("viewer", 404), ("editor", 404)])
def test_only_the_owner_promoters_and_admins_walk_a_sandbox_on_the_page(auth, walkers, who, status):
    project, limbo = walkers
    auth.login(f"{who}@example.com")
    gate = project.rooms[0].room_id
    answer = auth.get(f"/world/rooms/{gate}")
    assert answer.status_code == status
    assert ("Mill gate" in answer.get_data(as_text=True)) is (status == 200)
    assert auth.get(f"/world/rooms/{limbo.id}").status_code == 200  # the live world is every member's
    page = auth.get(f"/builds/{project.id}").get_data(as_text=True)
    assert ("Walk the sandbox" in page) is (status == 200)
    assert (f'href="/world/rooms/{gate}"' in page) is (status == 200)


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("promoter", 200), ("viewer", 404), ("editor", 404)])
def test_only_the_owner_promoters_and_admins_walk_a_sandbox_over_the_api(client, factories, walkers, who, status):
    from webapp.accounts import services as accounts
    from webapp.accounts.models import User

    project, limbo = walkers
    actor = accounts.actor_for_user(_user(User, f"{who}@example.com"), project.workspace_id)
    headers = {"Authorization": f"Bearer {factories.personal_token(actor)}"}
    answer = client.get(f"/api/v1/world/rooms/{project.rooms[1].room_id}", headers=headers)
    assert answer.status_code == status
    if status == 404:
        assert answer.get_json()["error"] == "not_found"
    assert client.get(f"/api/v1/world/rooms/{limbo.id}", headers=headers).status_code == 200


def _user(model, email):
    from webapp.extensions import db

    return db.session.scalars(select(model).where(model.email == email)).one()


def test_a_returned_area_is_a_sandbox_again_for_the_same_walkers(auth, walkers, factories):
    from webapp.worlds import promotion, unpromotion

    project, limbo = walkers
    admin = factories.user("admin", "Acme")
    promotion.promote(admin, project.id, limbo.id, "north")
    auth.login("viewer@example.com")
    assert auth.get(f"/world/rooms/{project.rooms[0].room_id}").status_code == 200  # live: anyone
    unpromotion.unpromote(admin, project.id)
    assert auth.get(f"/world/rooms/{project.rooms[0].room_id}").status_code == 404
    auth.logout()
    auth.login("owner@example.com")
    assert auth.get(f"/world/rooms/{project.rooms[0].room_id}").status_code == 200
