"""Reading is scoped to the workspace: another workspace's projects and rooms are a 404."""

from __future__ import annotations

import pytest

from webapp.errors import NotFound
from webapp.worlds import promotion, queries


def test_another_workspace_sees_nothing_of_this_one(factories):
    admin = factories.user("admin", "Acme")
    limbo = factories.live_room(admin)
    project = factories.build_project(admin)
    other = factories.user("admin", "Globex")
    mine = factories.live_room(other, "limbo")
    with pytest.raises(NotFound):
        queries.get_project(other, project.id)
    with pytest.raises(NotFound):
        queries.get_room(other, limbo.id)
    with pytest.raises(NotFound):
        promotion.promote(other, project.id, mine.id, "north")
    other_project = factories.build_project(other)
    with pytest.raises(NotFound):
        promotion.promotion_preview(other, other_project.id, limbo.id, "north")
    assert [r.id for r in queries.live_rooms(other)] == [mine.id]
