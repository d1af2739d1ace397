"""The bots' API (workspace bot token): link a chat identity, set availability for one."""

from __future__ import annotations

from flask import Response, jsonify

from webapp.accounts.context import bearer_token
from webapp.api import bp, json_body
from webapp.errors import BadRequest
from webapp.gamenight import services


@bp.post("/link/confirm")
def confirm_link() -> Response:
    """`{"code", "channel", "external_id", "target"?}` → 200 `{"linked": true, "channel", "user"}`."""
    workspace_id = services.bot_workspace(bearer_token())
    body = json_body()
    contact = services.confirm_link(workspace_id, body.get("code"), body.get("channel"), body.get("external_id"),
                                    body.get("target"))
    player = services.profile(workspace_id, contact.user_id)
    return jsonify({"linked": True, "channel": contact.channel.value,
                    "player": player.display_name if player else None,
                    "has_player_profile": player is not None})


@bp.post("/availability")
def set_availability() -> Response:
    """`{"channel", "external_id", "date": "today"|"tomorrow"|"YYYY-MM-DD", "status": "…"|null}` → 200
    `{"date", "status"}`; 404 `not_linked` for an identity nobody linked."""
    workspace_id = services.bot_workspace(bearer_token())
    body = json_body()
    user_id = services.member_for_identity(workspace_id, body.get("channel"), body.get("external_id"))
    if "status" not in body:
        raise BadRequest("'status' is required: a status, or null to clear it.")
    ws = services.workspace(workspace_id)
    day = services.parse_day(ws, body.get("date", "today"))
    status = services.parse_status(body.get("status"))
    services.set_status(workspace_id, user_id, day, status, actor_label=f"bot ({body.get('channel')})")
    return jsonify({"date": day.isoformat(), "status": status.value if status else None})
