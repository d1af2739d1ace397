"""The announcement of a new planning room in the workspace's chat channel: an outbox effect, retried with
back-off when it provably never arrived, `unknown` (never posted again) when it may have — never in the way
of the room."""

from __future__ import annotations

from typing import Any

from flask import current_app

from webapp.extensions import db
from webapp.gamenight import availability, night_settings
from webapp.gamenight.models import PlanningRoom, PostStatus
from webapp.outbox import services as outbox
from webapp.outbox.models import OutboxEffect
from webapp.sealing import unseal

POST_EFFECT = "gamenight.planning_post"


@outbox.handler(POST_EFFECT, outside=True)
def post_room(effect: OutboxEffect) -> dict[str, Any]:
    """Announce a new room in the workspace's channel. A failure is written on the room (the page shows it)
    and raised: one that provably never reached the channel is retried with back-off, one that may have
    (no answer after sending, a 5xx) is `unknown` and never posted again."""
    from webapp.notify import delivery
    from webapp.notify.transport import Outcome

    room = db.session.get(PlanningRoom, effect.payload["room_id"])
    if room is None or room.post_status in (PostStatus.sent, PostStatus.unknown):
        return {"skipped": "room gone or announced"}
    sealed = night_settings.settings(room.workspace_id).planning_post_target_sealed
    if not sealed:
        room.post_status, room.post_error = PostStatus.off, ""
        room.version = PlanningRoom.version + 1
        db.session.commit()
        return {"skipped": "no announcement channel"}
    ws = night_settings.workspace(room.workspace_id)
    ready = availability.ready(ws.id, room.day)
    link = current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + "/planning/today"
    try:
        outcome, answer = delivery.send(unseal(sealed), f"Planning room open · {ws.name}",
                                        f"{ready} players are ready for {room.day.strftime('%A %d %B')}. Join the "
                                        f"planning room, suggest team names and vote: {link}", f"planning:{room.id}:post")
    except Exception as exc:  # noqa: BLE001 — an unusable target is a failed post, recorded like one
        outcome, answer = Outcome.refused, type(exc).__name__
    if outcome is Outcome.sent:
        room.post_status, room.post_error = PostStatus.sent, ""
    elif outcome is Outcome.ambiguous:
        room.post_status, room.post_error = PostStatus.unknown, answer[:300]
    else:  # the outbox counted this attempt when it claimed the effect
        last = effect.attempts >= effect.max_attempts
        room.post_status, room.post_error = PostStatus.failed if last else PostStatus.retrying, answer[:300]
    room.version = PlanningRoom.version + 1  # the room shows the announcement (`planning_rooms.changed`)
    db.session.commit()
    outbox.raise_unless_sent(outcome, "the announcement channel", answer)
    return {"sent": True}
