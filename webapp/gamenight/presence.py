"""Who is here: bots report snapshots of the voice channel (chat identities) and of the game server
(player names); the ready-check reads the snapshots of the last few minutes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from flask import current_app
from pydantic import BeforeValidator, Field
from sqlalchemy import delete, select

from webapp.commands import Command, bad_request
from webapp.extensions import db, utcnow
from webapp.gamenight.models import PlayerProfile, PresenceReport
from webapp.notify.models import CHAT_CHANNELS, Contact

SOURCES = ("voice", "game_server")
Source = Literal["voice", "game_server"]
MAX_PRESENT = 5000
KEEP = timedelta(days=1)


def _source(value: Any) -> str:
    if value not in SOURCES:
        raise bad_request("is 'voice' (chat identities) or 'game_server' (player names)")
    return value


@dataclass(frozen=True)
class Presence:
    in_voice: set[int]  # members whose linked chat identity is in the voice channel
    in_game: set[int]  # members whose display name or an alias is on the game server
    has_game_server: bool  # a game server reported at all (else "in game, not in voice" means nothing)


def _present(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_PRESENT:
        raise bad_request(f"is a list of at most {MAX_PRESENT} identities")
    names: list[str] = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip() or len(item) > 200:
            raise bad_request("has an id or a name of 1 to 200 characters in each entry")
        names.append(item.strip())
    return names


class PresenceCommand(Command):
    """`{"source", "present"}`: one snapshot of the voice channel (chat identities) or the game server (names)."""

    source: Annotated[Source, BeforeValidator(_source)] = Field(None, validate_default=True)
    present: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], BeforeValidator(_present),
                       Field(max_length=MAX_PRESENT)] = Field(None, validate_default=True)


def report(workspace_id: int, source: Source, present: Sequence[str]) -> PresenceReport:
    """Store one snapshot (older ones than KEEP go)."""
    now = utcnow()
    db.session.execute(delete(PresenceReport).where(PresenceReport.workspace_id == workspace_id,
                                                    PresenceReport.seen_at < now - KEEP))
    snapshot = PresenceReport(workspace_id=workspace_id, source=source, present=sorted(set(present)), seen_at=now)
    db.session.add(snapshot)
    db.session.commit()
    return snapshot


def present_members(workspace_id: int, now: datetime | None = None, *, since: datetime | None = None) -> Presence:
    """Who the reports of the last `PRESENCE_WINDOW_MINUTES` show — and, with `since` (the start call), every
    report since then too: a member who joined voice after the start call counts, however long ago."""
    now = now or utcnow()
    window = timedelta(minutes=current_app.config["SETTINGS"].PRESENCE_WINDOW_MINUTES)
    earliest = now - window if since is None else min(now - window, since)
    reports = db.session.scalars(select(PresenceReport).where(
        PresenceReport.workspace_id == workspace_id, PresenceReport.seen_at > earliest,
        PresenceReport.seen_at <= now + timedelta(minutes=1))).all()
    voice = {i for r in reports if r.source == "voice" for i in r.present}
    game = {name.casefold() for r in reports if r.source == "game_server" for name in r.present}
    in_voice = set(db.session.scalars(select(Contact.user_id).where(
        Contact.workspace_id == workspace_id, Contact.channel.in_(CHAT_CHANNELS),
        Contact.confirmed_at.is_not(None), Contact.external_id.in_(sorted(voice))))) if voice else set()
    in_game: set[int] = set()
    if game:
        for user_id, display_name, aliases in db.session.execute(
                select(PlayerProfile.user_id, PlayerProfile.display_name, PlayerProfile.aliases)
                .where(PlayerProfile.workspace_id == workspace_id)):
            if {display_name.casefold(), *(a.casefold() for a in aliases or [])} & game:
                in_game.add(user_id)
    return Presence(in_voice=in_voice, in_game=in_game,
                    has_game_server=any(r.source == "game_server" for r in reports))

