"""Game nights over JSON: the bots' API (workspace bot token: link, availability, presence), campaigns
(personal access token, promoter role) and the planning room (either)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from webapp.accounts.context import api_actor, bearer_token
from webapp.api import bp, json_body
from webapp.errors import BadRequest
from webapp.gamenight import campaigns, planning, presence, services


@bp.post("/link/confirm")
def confirm_link() -> Response:
    """`{"code", "channel", "external_id", "target"?}` → 200 `{"linked": true, "channel", "player",
    "has_player_profile"}`."""
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


# -- planning room (members with a personal token; bots for a linked chat identity) ----------------


def _planner(fields: set[str]) -> tuple[planning.Member, dict[str, Any]]:
    """Who acts and the body. A bot token (`pdb_…`) acts for the member its `channel` + `external_id` are
    linked to; a personal token for its member."""
    body = json_body()
    unknown = set(body) - fields - {"date", "channel", "external_id"}
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    token = bearer_token()
    if token.startswith("pdb_"):
        return planning.Member.bot(services.bot_workspace(token), body.get("channel"), body.get("external_id")), body
    return planning.Member.of(api_actor()), body


def _room(who: planning.Member, **extra: Any) -> dict[str, Any]:
    return {**extra, **planning.view(services.workspace(who.workspace_id), who.user_id).as_json()}


@bp.get("/planning/today")
def planning_today() -> Response:
    """Today's readiness, threshold and room. A bot may name a member (`?channel=&external_id=`) to see
    their votes; without one it sees the room as a guest."""
    token = bearer_token()
    if token.startswith("pdb_"):
        workspace_id, viewer = services.bot_workspace(token), None
        if request.args.get("channel") or request.args.get("external_id"):
            viewer = services.member_for_identity(workspace_id, request.args.get("channel"),
                                                  request.args.get("external_id"))
    else:
        actor = api_actor()
        workspace_id, viewer = actor.workspace_id, actor.user_id
    return jsonify(planning.view(services.workspace(workspace_id), viewer).as_json())


@bp.post("/planning/today/create")
def planning_create() -> tuple[Response, int]:
    """Open today's room once the threshold is reached → 201 (200 when it was open already); 409
    `below_threshold`."""
    who, body = _planner(set())
    _, created = planning.create(who, body.get("date"))
    return jsonify(_room(who, created=created)), 201 if created else 200


@bp.post("/planning/today/join")
def planning_join() -> Response:
    who, body = _planner(set())
    planning.join(who, body.get("date"))
    return jsonify(_room(who))


@bp.post("/planning/today/leave")
def planning_leave() -> Response:
    who, body = _planner(set())
    planning.leave(who, body.get("date"))
    return jsonify(_room(who))


@bp.post("/planning/today/suggestions")
def planning_suggest() -> tuple[Response, int]:
    """`{"name"}` → 201 the new suggestion, 200 when it merged into an existing one (case and spaces aside)."""
    who, body = _planner({"name"})
    suggestion, created = planning.suggest(who, body.get("name"), body.get("date"))
    return jsonify(_room(who, suggestion={"id": suggestion.id, "name": suggestion.name}, created=created)), \
        201 if created else 200


@bp.post("/planning/today/vote")
def planning_vote() -> Response:
    """`{"suggestion_id"}` or `{"name"}` toggles the member's vote → `{"voted": true|false, …}`."""
    who, body = _planner({"suggestion_id", "name"})
    voted = planning.vote(who, body.get("suggestion_id"), body.get("name"), body.get("date"))
    return jsonify(_room(who, voted=voted))


@bp.post("/planning/today/teams")
def planning_teams() -> Response:
    """`{"teams": [{"name", "players": [ids]}, …]}` saves these teams; `{"auto": true, "team_count": 2,
    "seed"?: 7, "names"?: […]}` auto-drafts everyone in the room into balanced teams and saves them."""
    who, body = _planner({"teams", "auto", "team_count", "seed", "names"})
    if body.get("auto") is True:
        planning.save_auto_draft(who, body.get("team_count"), body.get("seed"), body.get("names"), body.get("date"))
    else:
        planning.save_teams(who, body.get("teams"), body.get("date"))
    return jsonify(_room(who))
