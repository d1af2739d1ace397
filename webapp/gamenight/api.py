"""Game nights over JSON: the bots' API (workspace bot token: link, availability, presence) and
campaigns (personal access token, promoter role)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from webapp.accounts.context import api_actor, bearer_token
from webapp.api import bp, json_body
from webapp.errors import BadRequest
from webapp.gamenight import campaigns, presence, services


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


@bp.post("/presence")
def report_presence() -> Response:
    """`{"source": "voice"|"game_server", "present": [...]}` → 200 `{"source", "count", "seen_at"}`."""
    workspace_id = services.bot_workspace(bearer_token())
    body = json_body()
    snapshot = presence.report(workspace_id, body.get("source"), body.get("present"))
    return jsonify({"source": snapshot.source, "count": len(snapshot.present), "seen_at": snapshot.seen_at.isoformat()})


# -- campaigns (personal access token, promoter) -------------------------------------------------


def _choices(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - {"date", "start_time", "lead_minutes", "statuses", "dry_run"}
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    return {"day": body.get("date"), "start_time": body.get("start_time"), "lead_minutes": body.get("lead_minutes"),
            "statuses": body.get("statuses")}


@bp.post("/campaigns/preview")
def preview_campaign() -> Response:
    """The same body as create → 200 the plan: recipient count, channels, jobs (never a handle)."""
    body = json_body()
    return jsonify(campaigns.preview(api_actor(), **_choices(body)).as_json())


@bp.post("/campaigns")
def create_campaign() -> tuple[Response, int]:
    """`{"date"?, "start_time"?, "lead_minutes"?, "statuses": [...], "dry_run"?}` with an optional
    `Idempotency-Key` header → 201 the campaign (200 when the key was seen before)."""
    body = json_body()
    campaign, created = campaigns.create(api_actor(), idempotency_key=request.headers.get("Idempotency-Key"),
                                         dry_run=body.get("dry_run", False), **_choices(body))
    return jsonify(campaigns.as_json(campaign)), 201 if created else 200


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int) -> Response:
    return jsonify(campaigns.as_json(campaigns.get(api_actor(), campaign_id)))


@bp.post("/campaigns/<int:campaign_id>/cancel")
def cancel_campaign(campaign_id: int) -> Response:
    return jsonify(campaigns.as_json(campaigns.cancel(api_actor(), campaign_id)))
