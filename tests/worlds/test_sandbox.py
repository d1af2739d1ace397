"""Building the sandbox: the rooms dug tagged and hidden from the live world, handles counting up."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.worlds import queries
from webapp.worlds.models import Exit, Room


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


def test_handles_count_up_per_key_across_builds(factories):
    admin = factories.user("admin")
    first, second = factories.build_project(admin), factories.build_project(admin)
    handles = {r.handle for p in (first, second) for r in queries.get_project(admin, p.id).rooms
               for r in [queries.get_room(admin, r.room_id)]}
    assert {"gate#01", "gate#02", "yard#01", "yard#02"} <= handles
