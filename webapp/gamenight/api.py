"""Game nights over JSON: the bots' API (workspace bot token: link, availability, presence, reviewing promotion
requests for a linked member), campaigns (personal access token, promoter role) and the planning room (either)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date as date_
from datetime import datetime
from typing import Any, TypeVar

from flask import Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from webapp.accounts import services as accounts
from webapp.accounts.context import api_actor, bearer_token
from webapp.accounts.models import User
from webapp.apiblueprint import bp
from webapp.commands import Command, Text, from_json, from_query
from webapp.extensions import db
from webapp.gamenight import (
    availability,
    campaign_answers,
    campaign_plans,
    campaigns,
    night_settings,
    planning_rooms,
    players,
    presence,
    team_names,
    teams,
)
from webapp.gamenight.models import Answer, Status
from webapp.governance import api as governance_api
from webapp.governance import services as governance
from webapp.governance.models import Decision
from webapp.openapi import Auth, documented


class LinkConfirmed(BaseModel):
    linked: bool
    channel: str
    player: str | None
    has_player_profile: bool


class StatusSet(BaseModel):
    date: date_
    status: Status | None


@bp.post("/link/confirm")
@documented("Confirm a member's link code from a chat identity", body=players.LinkConfirmCommand, body_required=True,
            auth="bot",
            responses={200: LinkConfirmed, 404: "the link code is unknown, used or expired (`link_code_invalid`)",
                       409: "the identity is another member's (`identity_taken`), or the member has another one on "
                            "that channel (`channel_taken`)"})
def confirm_link() -> Response:
    """`{"code", "channel", "external_id", "target"?}` → 200 `{"linked": true, "channel", "player",
    "has_player_profile"}`."""
    workspace_id = night_settings.bot_workspace(bearer_token())
    contact = players.confirm_link(workspace_id, from_json(players.LinkConfirmCommand))
    player = players.profile(workspace_id, contact.user_id)
    return jsonify({"linked": True, "channel": contact.channel.value,
                    "player": player.display_name if player else None,
                    "has_player_profile": player is not None})


@bp.post("/availability")
@documented("Set or clear the status of the member behind a chat identity", body=availability.BotStatusCommand,
            auth="bot", responses={200: StatusSet, 404: "nobody linked this identity (`not_linked`)",
                                   409: "the member has no player profile or confirmed contact (`not_linked`)"})
def set_availability() -> Response:
    """`{"channel", "external_id", "date": "today"|"tomorrow"|"YYYY-MM-DD", "status": "…"|null}` → 200
    `{"date", "status"}`; 404 `not_linked` for an identity nobody linked."""
    workspace_id = night_settings.bot_workspace(bearer_token())
    command = from_json(availability.BotStatusCommand)
    user_id = players.member_for_identity(workspace_id, command)
    day = availability.resolve_day(night_settings.workspace(workspace_id), command.day)
    status = availability.set_status(workspace_id, user_id, day, command.status,
                                     actor_label=f"bot ({command.channel.value})")
    return jsonify({"date": day.isoformat(), "status": status.value if status else None})


class PresenceOut(BaseModel):
    source: str
    count: int
    seen_at: datetime


@bp.post("/presence")
@documented("Report who is in voice or on the game server", body=presence.PresenceCommand, auth="bot",
            responses={200: PresenceOut})
def report_presence() -> Response:
    """`{"source": "voice"|"game_server", "present": [...]}` → 200 `{"source", "count", "seen_at"}`."""
    workspace_id = night_settings.bot_workspace(bearer_token())
    command = from_json(presence.PresenceCommand)
    snapshot = presence.report(workspace_id, command.source, command.present)
    return jsonify({"source": snapshot.source, "count": len(snapshot.present), "seen_at": snapshot.seen_at.isoformat()})


# -- promotion reviews from chat (bot token + the member's linked identity) ------------------------


class BotReview(players.ChatIdentity):
    """Who reviews (the member linked to `channel` + `external_id`) and why."""

    comment: Text = Field("", description="Kept in the request's history and the audit log.")


def _bot_decide(request_id: int, decision: Decision) -> Response:
    """The dashboard's rules, for the member behind a linked chat identity: their role, the policy's approver
    role, never their own request unless the policy allows it, once per member (a replay is 409)."""
    workspace_id = night_settings.bot_workspace(bearer_token())
    governance.get_request(accounts.system_actor(workspace_id, "bot"), request_id)  # 404 whatever the body
    command = from_json(BotReview)
    user = db.session.get(User, players.member_for_identity(workspace_id, command))
    reviewer = replace(accounts.actor_for_user(user, workspace_id),
                       label=f"{user.email} via bot ({command.channel.value})")
    row = governance.decide(reviewer, request_id, decision, command.comment)
    return jsonify(governance_api.request_out(reviewer, row))


_BOT_REVIEW = {200: governance_api.RequestOut,
               403: "the linked member's role is below the policy's approver role, or they asked for this "
                    "promotion and the policy does not let requesters approve",
               404: "no such request in the bot's workspace, or nobody linked this identity (`not_linked`)",
               409: "the member reviewed it already (`already_reviewed`), it is not open (`request_not_open`), or "
                    "production changed after the request (`request_stale`, `details` is the fresh preview)"}


@bp.post("/bot/promotion-requests/<int:request_id>/approve")
@documented("Approve a promotion request for the member behind a chat identity", body=BotReview, auth="bot",
            responses=_BOT_REVIEW)
def bot_approve_request(request_id: int) -> Response:
    """`{"channel", "external_id", "comment"?}` → 200 the request, as `POST /promotion-requests/<id>/approve`
    answers the member."""
    return _bot_decide(request_id, Decision.approve)


@bp.post("/bot/promotion-requests/<int:request_id>/reject")
@documented("Reject a promotion request for the member behind a chat identity", body=BotReview, auth="bot",
            responses=_BOT_REVIEW)
def bot_reject_request(request_id: int) -> Response:
    """`{"channel", "external_id", "comment"?}` → 200 the request."""
    return _bot_decide(request_id, Decision.reject)


# -- campaigns (personal access token, promoter) -------------------------------------------------


class ExistingCampaignOut(BaseModel):
    """The promoter's own campaign of that day: a second one would be a 409 (`already_promoted`)."""

    id: int
    status: str


class CampaignPlanOut(BaseModel):
    """A preview: who would be told (counts only) and when each job runs (the ready-check the workspace's
    `ready_check_delay` after the start call), and the promoter's campaign of that day if there is one."""

    date: date_
    start_at: datetime
    lead_minutes: int
    statuses: list[Status]
    recipient_count: int
    channels: dict[str, int]
    jobs: list[dict[str, str]]
    min_players: int | None
    existing_campaign: ExistingCampaignOut | None


class CampaignJobOut(BaseModel):
    type: str
    run_at: datetime
    status: str
    counts: dict[str, int]


class AnswerCountsOut(BaseModel):
    """How many recipients answered the reminder in, late and can't."""

    model_config = ConfigDict(populate_by_name=True)

    in_: int = Field(alias="in")
    late: int
    cant: int


class CampaignOut(BaseModel):
    id: int
    status: str
    date: date_
    start_at: datetime
    dry_run: bool
    recipient_count: int
    statuses: list[str]
    jobs: list[CampaignJobOut]
    channels: dict[str, int]
    min_players: int | None
    called_off_at: datetime | None
    answers: AnswerCountsOut


class AnswerOut(BaseModel):
    campaign_id: int
    answer: Answer
    late_minutes: int | None
    changed: bool  # False: the same answer again, nothing done
    withdrawn: int  # the member's messages this answer withdrew (only the first "can't")
    nudge_at: datetime | None  # a late member's ready-check nudge


class AnswersOut(BaseModel):
    answers: list[AnswerOut]


@bp.post("/campaigns/answers")
@documented("Pass on a member's answer to a reminder: in, late N or can't", body=campaign_answers.BotAnswerCommand,
            auth="bot", responses={200: AnswersOut,
                                   404: "nobody linked this identity (`not_linked`), or the member has no running "
                                        "game night (`no_campaign`)",
                                   409: "the night is over or cancelled (`campaign_closed`), or \"in\"/\"late\" after "
                                        "\"can't\" (`already_withdrawn`)"})
def answer_campaign() -> Response:
    """`{"channel", "external_id", "answer": "in"|"late 15"|"can't", "campaign_id"?}` → 200 `{"answers": [...]}`,
    one per campaign answered (without `campaign_id`: each running campaign of the member's next night that
    takes it; a 409 only when none does)."""
    workspace_id = night_settings.bot_workspace(bearer_token())
    command = from_json(campaign_answers.BotAnswerCommand)
    user_id = players.member_for_identity(workspace_id, command)
    found = campaign_answers.campaigns_for(workspace_id, user_id, command.campaign_id)
    done = campaign_answers.answer_each(found, user_id, command, source=command.channel.value)
    return jsonify({"answers": [a.as_json() for a in done]})


_CAMPAIGN_REFUSALS = {403: "the token's role is below promoter", 429: "too many previews and creates in a minute",
                      422: "the day or start has passed or is more than a year ahead, or no promotable status "
                           "(`details` names the field)"}


@bp.post("/campaigns/preview")
@documented("Preview a game-night campaign", body=campaign_plans.CampaignChoices,
            responses={200: CampaignPlanOut, **_CAMPAIGN_REFUSALS})
def preview_campaign() -> Response:
    """The same body as create → 200 the plan: recipient count, channels, jobs (never a handle)."""
    return jsonify(campaign_plans.preview(api_actor(), from_json(campaign_plans.CampaignChoices)).as_json())


@bp.post("/campaigns")
@documented("Promote a game night", body=campaign_plans.CampaignChoices,
            responses={201: CampaignOut, 200: CampaignOut, 409: "a campaign of this promoter for that day exists "
                       "(`already_promoted`; `details`: its `campaign_id` and `status`, and the message says whether "
                       "it can still be cancelled)", **_CAMPAIGN_REFUSALS})
def create_campaign() -> tuple[Response, int]:
    """`{"date"?, "start_time"?, "lead_minutes"?, "statuses": [...], "dry_run"?, "min_players"?}` with an optional
    `Idempotency-Key` header → 201 the campaign (200 when the key was seen before)."""
    campaign, created = campaigns.create(api_actor(), from_json(campaign_plans.CampaignChoices),
                                         idempotency_key=request.headers.get("Idempotency-Key"))
    return jsonify(campaigns.as_json(campaign)), 201 if created else 200


@bp.get("/campaigns/<int:campaign_id>")
@documented("A campaign: its status, jobs and counts", responses={200: CampaignOut})
def get_campaign(campaign_id: int) -> Response:
    return jsonify(campaigns.as_json(campaigns.get(api_actor(), campaign_id)))


@bp.post("/campaigns/<int:campaign_id>/cancel")
@documented("Cancel a campaign's pending jobs", responses={200: CampaignOut, 403: "the token's role is below promoter",
                                                           409: "the campaign is not scheduled or sending"})
def cancel_campaign(campaign_id: int) -> Response:
    return jsonify(campaigns.as_json(campaigns.cancel(api_actor(), campaign_id)))


# -- planning room (members with a personal token; bots for a linked chat identity) ----------------


C = TypeVar("C", bound=planning_rooms.RoomChange)
_IDS = {"type": "array", "items": {"type": "integer"}}
ROOM_SCHEMA: dict[str, Any] = {  # `planning_rooms.PlanningDay.as_json()`, with a change's extras (created, voted, …)
    "type": "object", "title": "PlanningDay", "required": ["date", "ready", "threshold", "unlocked", "read_only", "room"],
    "properties": {
        "date": {"type": "string", "format": "date"}, "ready": {"type": "integer"}, "threshold": {"type": "integer"},
        "unlocked": {"type": "boolean"}, "read_only": {"type": "boolean"},
        "created": {"type": "boolean"}, "voted": {"type": "boolean"},
        "suggestion": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "room": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["id", "created_at", "joined", "players", "suggestions", "teams", "bench",
                                           "teams_saved_at", "announcement"],
            "properties": {
                "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
                "joined": {"type": "boolean"},
                "players": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}}}},
                "suggestions": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "votes": {"type": "integer"},
                    "voted": {"type": "boolean"}}}},
                "teams": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "players": _IDS}}},
                "bench": _IDS,
                "teams_saved_at": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date-time"}]},
                "announcement": {"type": "object", "properties": {
                    "status": {"type": "string"}, "error": {"anyOf": [{"type": "null"}, {"type": "string"}]}}},
                "discord_thread": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {
                    "status": {"type": "string"}, "url": {"anyOf": [{"type": "null"}, {"type": "string"}]},
                    "error": {"anyOf": [{"type": "null"}, {"type": "string"}]},
                    "teams": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {
                        "status": {"type": "string"},
                        "error": {"anyOf": [{"type": "null"}, {"type": "string"}]}}}]}}}]},
            }}]},
    },
}
_PLANNING_AUTH: tuple[Auth, ...] = ("personal", "bot")
_PLANNING_REFUSALS = {404: "no room today yet (`no_room`), or a bot's identity nobody linked (`not_linked`)",
                      409: "another day's room (`room_closed`, `room_not_open_yet`), not linked (`not_linked`) or "
                           "not in the room (`not_in_room`)"}


def _planner(command: type[C]) -> tuple[planning_rooms.Member, C]:
    """Who acts and the typed body. A bot token (`pdb_…`) acts for the member its `channel` + `external_id` are
    linked to; a personal token for its member."""
    body = from_json(command)
    token = bearer_token()
    if token.startswith("pdb_"):
        return planning_rooms.Member.bot(night_settings.bot_workspace(token), body.identity()), body
    return planning_rooms.Member.of(api_actor()), body


def _room(who: planning_rooms.Member, **extra: Any) -> dict[str, Any]:
    return {**extra, **planning_rooms.view(night_settings.workspace(who.workspace_id), who.user_id).as_json()}


class PlanningViewer(Command):
    """A bot may name a member to see the room as they do (their votes)."""

    channel: str | None = None
    external_id: str | None = None


@bp.get("/planning/today")
@documented("Today's readiness, threshold and planning room", query=PlanningViewer, auth=_PLANNING_AUTH,
            responses={200: ROOM_SCHEMA})
def planning_today() -> Response:
    """Today's readiness, threshold and room. A bot may name a member (`?channel=&external_id=`) to see
    their votes; without one it sees the room as a guest."""
    token = bearer_token()
    if token.startswith("pdb_"):
        workspace_id, viewer = night_settings.bot_workspace(token), None
        query = from_query(PlanningViewer)
        if query.channel or query.external_id:
            viewer = players.member_for_identity(workspace_id, players.ChatIdentity.of(query.channel,
                                                                                       query.external_id))
    else:
        actor = api_actor()
        workspace_id, viewer = actor.workspace_id, actor.user_id
    return jsonify(planning_rooms.view(night_settings.workspace(workspace_id), viewer).as_json())


@bp.post("/planning/today/create")
@documented("Open today's planning room", body=planning_rooms.RoomChange, auth=_PLANNING_AUTH,
            responses={201: ROOM_SCHEMA, 200: ROOM_SCHEMA, **_PLANNING_REFUSALS,
                       409: "below the threshold (`below_threshold`), another day, or not linked"})
def planning_create() -> tuple[Response, int]:
    """Open today's room once the threshold is reached → 201 (200 when it was open already); 409
    `below_threshold`."""
    who, body = _planner(planning_rooms.RoomChange)
    _, created = planning_rooms.create(who, body.day)
    return jsonify(_room(who, created=created)), 201 if created else 200


def _membership_change(action: str, summary: str,
                       change: Callable[[planning_rooms.Member, planning_rooms.Day], object]) -> None:
    """Route `POST /planning/today/<action>` (endpoint `api.planning_<action>`, documented on its own): a change
    of who is in the room that takes the bare `RoomChange` and answers with the room."""

    def view() -> Response:
        who, body = _planner(planning_rooms.RoomChange)
        change(who, body.day)
        return jsonify(_room(who))

    view.__name__ = view.__qualname__ = f"planning_{action}"
    documented(summary, body=planning_rooms.RoomChange, auth=_PLANNING_AUTH,
               responses={200: ROOM_SCHEMA, **_PLANNING_REFUSALS})(view)
    bp.add_url_rule(f"/planning/today/{action}", view.__name__, view, methods=["POST"])


_membership_change("join", "Join today's planning room", planning_rooms.join)
_membership_change("leave", "Leave today's planning room", planning_rooms.leave)


@bp.post("/planning/today/suggestions")
@documented("Suggest a team name", body=team_names.SuggestionCommand, auth=_PLANNING_AUTH,
            responses={201: ROOM_SCHEMA, 200: ROOM_SCHEMA, **_PLANNING_REFUSALS})
def planning_suggest() -> tuple[Response, int]:
    """`{"name"}` → 201 the new suggestion, 200 when it merged into an existing one (case and spaces aside)."""
    who, body = _planner(team_names.SuggestionCommand)
    suggestion, created = team_names.suggest(who, body.name, body.day)
    return jsonify(_room(who, suggestion={"id": suggestion.id, "name": suggestion.name}, created=created)), \
        201 if created else 200


@bp.post("/planning/today/vote")
@documented("Toggle the member's vote for a team name", body=team_names.VoteCommand, auth=_PLANNING_AUTH,
            responses={200: ROOM_SCHEMA, **_PLANNING_REFUSALS})
def planning_vote() -> Response:
    """`{"suggestion_id"}` or `{"name"}` toggles the member's vote → `{"voted": true|false, …}`."""
    who, body = _planner(team_names.VoteCommand)
    voted = team_names.vote(who, body.suggestion_id, body.name, body.day)
    return jsonify(_room(who, voted=voted))


@bp.post("/planning/today/teams")
@documented("Save teams, or auto-draft and save them", body=teams.TeamsCommand, auth=_PLANNING_AUTH,
            responses={200: ROOM_SCHEMA, **_PLANNING_REFUSALS})
def planning_teams() -> Response:
    """`{"teams": [{"name", "players": [ids]}, …]}` saves these teams; `{"auto": true, "team_count": 2,
    "seed"?: 7, "names"?: […]}` auto-drafts everyone in the room into balanced teams and saves them."""
    who, body = _planner(teams.TeamsCommand)
    teams.save(who, body)
    return jsonify(_room(who))
