"""Fixtures the game-night tests share.

Campaigns: `members` (three opted-in players reached at a secret target; `promoter` and `sink` come from
tests/conftest.py). Planning: `ws` (Acme with an admin and
`ws.players(n)`), `room` (today's open room with six players), `bot` (the bot token's headers).
A test module may define a fixture of the same name for its own meaning; it wins there.
"""

from __future__ import annotations

import pytest

from tests.gamenight.linking import ChatBot
from tests.gamenight.steps import SECRET_TARGET
from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.extensions import db as _db
from webapp.gamenight import night_settings, planning_rooms
from webapp.gamenight.planning_rooms import Member

# -- campaigns ------------------------------------------------------------------------------------


@pytest.fixture
def members(promoter, factories):
    ws = promoter.workspace_id
    return [factories.player(ws, f"m{i}@example.com", target=SECRET_TARGET) for i in range(3)]


# -- the planning room ----------------------------------------------------------------------------


@pytest.fixture
def ws(factories):
    """Acme with an admin; `ws.players(n, status)` adds linked members ready today and returns their Members."""
    admin = factories.user("admin", "Acme", email="boss@example.com")
    seq = iter(range(1, 1000))

    class Workspace:
        id = admin.workspace_id
        actor = admin

        def players(self, n: int, status: str | None = "available", prefix: str = "p") -> list[Member]:
            out = []
            for _ in range(n):
                i = next(seq)
                user_id = factories.player(admin.workspace_id, f"{prefix}{i}@example.com", status,
                                           name=f"{prefix.title()}layer {i}", external_id=f"{prefix}-{i}")
                out.append(Member.of(accounts.actor_for_user(_db.session.get(User, user_id), admin.workspace_id)))
            return out

    return Workspace()


@pytest.fixture
def room(ws):
    """Today's open room with six players; `room.members` are they (the first created it)."""
    members = ws.players(6)
    created, _ = planning_rooms.create(members[0])
    for who in members[1:]:
        planning_rooms.join(who)
    created.members_ = members
    return created


@pytest.fixture
def bot(client, ws):
    token = night_settings.rotate_bot_token(ws.actor)
    return {"Authorization": f"Bearer {token}"}


# -- players and availability (linking through the bot) -------------------------------------------


@pytest.fixture
def chat_bot(client, factories) -> ChatBot:
    """The Acme workspace's bot (Acme's admin is boss@example.com): `chat_bot.post(url, body)`."""
    admin = factories.user("admin", "Acme", email="boss@example.com")
    return ChatBot(client, night_settings.rotate_bot_token(admin))
