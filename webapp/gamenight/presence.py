"""Who is here: bots report snapshots of the voice channel (chat identities) and of the game server
(player names); the ready-check reads the snapshots of the last few minutes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from webapp.errors import BadRequest
from webapp.extensions import db, utcnow
from webapp.gamenight.models import PlayerProfile, PresenceReport
from webapp.notify.models import CHAT_CHANNELS, Contact

SOURCES = ("voice", "game_server")
MAX_PRESENT = 5000
KEEP = timedelta(days=1)


@dataclass(frozen=True)
class Presence:
    in_voice: set[int]  # members whose linked chat identity is in the voice channel
    in_game: set[int]  # members whose display name or an alias is on the game server
    has_game_server: bool  # a game server reported at all (else "in game, not in voice" means nothing)


def report(workspace_id: int, source: Any, present: Any) -> PresenceReport:
    """Store one snapshot; 400 for an unknown source or a malformed list (nothing stored)."""
    if source not in SOURCES:
        raise BadRequest("'source' is 'voice' (chat identities) or 'game_server' (player names).")
    if not isinstance(present, list) or len(present) > MAX_PRESENT:
        raise BadRequest(f"'present' is a list of at most {MAX_PRESENT} identities.")
    names: list[str] = []
    for item in present:
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip() or len(item) > 200:
            raise BadRequest("Each entry of 'present' is an id or a name of 1 to 200 characters.")
        names.append(item.strip())
    now = utcnow()
    db.session.execute(delete(PresenceReport).where(PresenceReport.workspace_id == workspace_id,
                                                    PresenceReport.seen_at < now - KEEP))
    snapshot = PresenceReport(workspace_id=workspace_id, source=source, present=sorted(set(names)), seen_at=now)
    db.session.add(snapshot)
    db.session.commit()
    return snapshot


def present_members(workspace_id: int, now: datetime | None = None) -> Presence:
    now = now or utcnow()
    window = timedelta(minutes=current_app.config["SETTINGS"].PRESENCE_WINDOW_MINUTES)
    reports = db.session.scalars(select(PresenceReport).where(
        PresenceReport.workspace_id == workspace_id, PresenceReport.seen_at > now - window,
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

