"""Promotion governance over JSON (personal access tokens): promotion requests (ask, list, read, approve, reject,
apply, withdraw), the workspace's approval policies (admins) and a member's opt-in to review messages.

Every non-GET route is a POST (the API's convention); another workspace's request is a 404 before the body is
read. A chat bot approves for a linked member through webapp/gamenight/api.py (the bot token is the game-night
flow's; governance sits below the flows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, Field, JsonValue, TypeAdapter, ValidationError, field_validator
from pydantic_core.core_schema import ValidationInfo

from webapp.accounts.context import api_actor
from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.apiblueprint import bp
from webapp.commands import Command, Flag, Id, Line, Text, bad_request, from_json, from_query, whole
from webapp.governance import services as governance
from webapp.governance.models import WORKSPACE_SUBJECT, WORLDS_SUBJECT, Decision, PromotionRequest, RequestState
from webapp.governance.services import PolicyCommand, RequestCommand
from webapp.openapi import documented

# -- what the routes take --------------------------------------------------------------------------------------

_PROCESS_SOURCE: TypeAdapter[Any] = TypeAdapter(Id)
_WORLD_SOURCE: TypeAdapter[Any] = TypeAdapter(tuple[Id, Id, Line])
_SOURCE_SCHEMA = {"anyOf": [
    {"type": "integer", "minimum": 1, "description": "flow `process`: the sandbox version's id"},
    {"type": "array", "minItems": 3, "maxItems": 3, "description": "flow `world`: [build project id, connection "
     "room id, direction]", "prefixItems": [{"type": "integer", "minimum": 1}, {"type": "integer", "minimum": 1},
                                            {"type": "string"}]}]}


class RequestBody(RequestCommand):
    """Ask for a promotion that needs approval, bound to the preview the requester saw (`preview_token`)."""

    source: Any = Field(json_schema_extra=_SOURCE_SCHEMA)

    @field_validator("source")
    @classmethod
    def _source_of_flow(cls, value: Any, info: ValidationInfo) -> Any:
        flow = info.data.get("flow")
        if flow is None:  # the flow is wrong already; that is the error to show
            return value
        try:
            return (_PROCESS_SOURCE if flow == "process" else _WORLD_SOURCE).validate_python(value)
        except ValidationError:
            raise bad_request("is a version id for flow 'process', [project id, connection room id, direction] "
                              "for flow 'world'") from None


class ReviewComment(Command):
    comment: Text = Field("", description="Why: kept in the request's history and the audit log.")


STATES = Literal["open", "approved", "rejected", "applied", "stale", "withdrawn", "waiting"]


class RequestQuery(Command):
    state: STATES | None = Field(None, description="One state, or `waiting` (open and approved, oldest first: "
                                                   "the review list); none: every state, newest first.")
    limit: whole(1, 200) = 50  # type: ignore[valid-type]


class SubscriptionCommand(Command):
    on: Flag = Field(description="true: tell me of requests I may review; false: stop.")


# -- what they answer ----------------------------------------------------------------------------------------


class DecisionOut(BaseModel):
    by: str | None
    decision: Literal["approve", "reject"]
    comment: str
    at: datetime


class RequestOut(BaseModel):
    id: int
    flow: Literal["process", "world"]
    source: JsonValue
    title: str
    state: Literal["open", "approved", "rejected", "applied", "stale", "withdrawn"]
    change_notes: str
    required_approvals: int
    approver_role: Literal["promoter", "admin"]
    requester_may_approve: bool
    apply_when_approved: bool
    diff_hash: str
    requested_by: str | None
    created_at: datetime
    decided_at: datetime | None
    applied_at: datetime | None
    applied_by: str | None
    outcome: JsonValue = Field(description="What the promotion answered when it applied (`result`, an admin's "
                                           "`override_reason`), or why it went stale (`reason`).")
    decisions: list[DecisionOut]
    process_id: int | None = None
    build_project_id: int | None = None
    may_review: bool = Field(description="Whether the token's member may approve or reject it now.")


class PolicyOut(BaseModel):
    subject: str = Field(description="`workspace`, `worlds` or `process:<id>`.")
    required_approvals: int
    approver_role: Literal["promoter", "admin"]
    requester_may_approve: bool
    from_: str | None = Field(alias="from", description="The subject whose row sets it (null: nobody set one, "
                                                        "0 approvals).")


class SubscriptionOut(BaseModel):
    on: bool


_REVIEW_REFUSED = ("the request is not open (`request_not_open`), the member reviewed it already "
                   "(`already_reviewed`), or production changed after the request (`request_stale`: `details` is "
                   "the fresh preview; the request is stale from now on)")
_REVIEW_FORBIDDEN = "the role is below the policy's approver role, or the requester may not review their own request"


def request_out(actor: Actor, row: PromotionRequest, people: dict[int, str] | None = None) -> dict[str, Any]:
    return governance.request_json(row, people) | {
        "may_review": row.state is RequestState.open and governance.may_review(actor, row) is None}


def _policy_out(subject: str, policy: governance.Policy) -> dict[str, Any]:
    return {"subject": subject, **policy.as_json()}


# -- promotion requests ----------------------------------------------------------------------------------------


@bp.post("/promotion-requests")
@documented("Request a promotion that needs approval", body=RequestBody, responses={
    201: RequestOut, 403: "the role is below promoter, or (world areas) not the project's owner or an admin",
    404: "no such version, build project or connection room in this workspace",
    409: "no approval needed (`approval_not_required`: promote directly), a request for that source is open "
         "(`request_open`, `details.request_id`), not promotable, or production changed since the preview "
         "(`production_changed`, `world_changed`: `details` is the fresh preview)"})
def create_request() -> tuple[Response, int]:
    """`{"flow": "process", "source": <version id>}` or `{"flow": "world", "source": [project id, connection room
    id, direction]}`, with the preview's `preview_token`, `change_notes` and `apply_when_approved` (apply itself
    with the last approval)."""
    actor = api_actor()
    actor.require(Role.promoter, "request promotions")  # before the body: a viewer gets 403, not a 400 about it
    row = governance.request_promotion(actor, from_json(RequestBody))
    return jsonify(request_out(actor, row)), 201


@bp.get("/promotion-requests")
@documented("The workspace's promotion requests", query=RequestQuery, responses={200: list[RequestOut]})
def list_requests() -> Response:
    actor = api_actor()
    query = from_query(RequestQuery)
    if query.state == "waiting":
        rows = governance.waiting(actor)[:query.limit]
    else:
        rows = governance.listing(actor, [RequestState(query.state)] if query.state else [], query.limit)
    people = governance.names([uid for r in rows for uid in (r.requested_by_id, r.applied_by_id,
                                                             *(d.user_id for d in r.decisions))])
    return jsonify([request_out(actor, r, people) for r in rows])


@bp.get("/promotion-requests/<int:request_id>")
@documented("A promotion request: its state, policy, decisions and outcome", responses={200: RequestOut})
def get_request(request_id: int) -> Response:
    actor = api_actor()
    return jsonify(request_out(actor, governance.get_request(actor, request_id)))


def _decide(request_id: int, decision: Decision) -> Response:
    actor = api_actor()
    governance.get_request(actor, request_id)  # another workspace's id is a 404 whatever the body
    comment = from_json(ReviewComment).comment
    return jsonify(request_out(actor, governance.decide(actor, request_id, decision, comment)))


@bp.post("/promotion-requests/<int:request_id>/approve")
@documented("Approve a promotion request", body=ReviewComment,
            responses={200: RequestOut, 403: _REVIEW_FORBIDDEN, 409: _REVIEW_REFUSED})
def approve_request(request_id: int) -> Response:
    """The last approval needed approves the request (`state` approved), and applies it when the requester asked
    for that (`state` applied)."""
    return _decide(request_id, Decision.approve)


@bp.post("/promotion-requests/<int:request_id>/reject")
@documented("Reject a promotion request", body=ReviewComment,
            responses={200: RequestOut, 403: _REVIEW_FORBIDDEN, 409: _REVIEW_REFUSED})
def reject_request(request_id: int) -> Response:
    return _decide(request_id, Decision.reject)


@bp.post("/promotion-requests/<int:request_id>/apply")
@documented("Apply an approved promotion request (the requester or any promoter)", responses={
    200: RequestOut, 403: "the role is below promoter",
    409: "the request is not approved (`request_not_approved`), or production changed after the request "
         "(`request_stale`: `details` is the fresh preview)"})
def apply_request(request_id: int) -> Response:
    """What was reviewed must still hold; `outcome.result` is what the promotion answered."""
    actor = api_actor()
    row, _result = governance.apply(actor, request_id)
    return jsonify(request_out(actor, row))


@bp.post("/promotion-requests/<int:request_id>/withdraw")
@documented("Withdraw a promotion request (the requester or an admin)", responses={
    200: RequestOut, 403: "neither the requester nor an admin",
    409: "the request is not open or approved (`request_not_open`)"})
def withdraw_request(request_id: int) -> Response:
    actor = api_actor()
    return jsonify(request_out(actor, governance.withdraw(actor, request_id)))


# -- approval policies ---------------------------------------------------------------------------------------


@bp.get("/approval-policies")
@documented("The workspace's approval policies", responses={200: list[PolicyOut]})
def list_policies() -> Response:
    """The workspace's own (always listed; 0 approvals until an admin sets one), then `worlds` and each
    `process:<id>` override that is set. A subject without a row follows the workspace's."""
    found = governance.policies(api_actor())
    found.setdefault(WORKSPACE_SUBJECT, governance.Policy())
    order = sorted(found, key=lambda s: (s != WORKSPACE_SUBJECT, s != WORLDS_SUBJECT, s))
    return jsonify([_policy_out(subject, found[subject]) for subject in order])


def _policy_admin(subject: str) -> Actor:
    actor = api_actor()
    actor.require(Role.admin, "set approval policies")  # before the body: a promoter gets 403, not a 400
    governance.check_subject(actor, subject)  # another workspace's process is a 404 whatever the body
    return actor


@bp.post("/approval-policies/<subject>")
@documented("Set the approval policy of the workspace, world builds or one process (admins)", body=PolicyCommand,
            responses={200: PolicyOut, 404: "no such subject: `workspace`, `worlds` or `process:<id>` of this "
                                            "workspace"})
def set_policy(subject: str) -> Response:
    """`required_approvals` 0–3 (0: promote directly), `approver_role` promoter or admin, `requester_may_approve`.
    A request already open keeps the policy it was asked under."""
    actor = _policy_admin(subject)
    return jsonify(_policy_out(subject, governance.set_policy(actor, subject, from_json(PolicyCommand))))


@bp.post("/approval-policies/<subject>/clear")
@documented("Remove an override: world builds or the process follow the workspace's policy again (admins)",
            responses={200: PolicyOut, 404: "no such subject", 422: "the workspace's own policy cannot be removed "
                                                                    "(set it to 0 approvals)"})
def clear_policy(subject: str) -> Response:
    """Answers the policy that governs `subject` now (`from`: whose it is). Idempotent."""
    actor = _policy_admin(subject)
    governance.clear_policy(actor, subject)
    return jsonify(_policy_out(subject, governance.policy_for(actor.workspace_id, [subject, WORKSPACE_SUBJECT])))


# -- review messages -----------------------------------------------------------------------------------------


@bp.get("/review-subscription")
@documented("Whether the token's member is told of requests they may review", responses={200: SubscriptionOut})
def review_subscription() -> Response:
    return jsonify({"on": governance.subscribed(api_actor())})


@bp.post("/review-subscription")
@documented("Opt in to (or out of) being told of requests the member may review", body=SubscriptionCommand,
            responses={200: SubscriptionOut})
def set_review_subscription() -> Response:
    """`{"on": true}`: each request the member may review is sent once through their contacts (the delivery
    ledger), whatever their game-night opt-in."""
    actor = api_actor()
    return jsonify({"on": governance.subscribe(actor, from_json(SubscriptionCommand).on)})
