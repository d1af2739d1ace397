"""Who is here: presence snapshots reported by bots (the API) and the window the ready-check reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import utcnow
from webapp.gamenight import night_settings, presence
from webapp.gamenight.models import (
    PresenceReport,
)


def test_presence_older_than_the_window_does_not_count(db, promoter, factories):
    from webapp.gamenight.models import PresenceReport

    ws = promoter.workspace_id
    member = factories.player(ws, "old@example.com", external_id="d-old")
    presence.report(ws, "voice", ["d-old"])
    assert presence.present_members(ws).in_voice == {member}
    db.session.execute(PresenceReport.__table__.update().values(seen_at=utcnow() - timedelta(minutes=6)))
    db.session.commit()
    assert presence.present_members(ws).in_voice == set()


# -- presence ---------------------------------------------------------------------------------------


@pytest.fixture
def bot_headers(promoter, factories):

    admin = factories.user("admin", "Acme", email="boss@example.com")
    return {"Authorization": f"Bearer {night_settings.rotate_bot_token(admin)}"}


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
