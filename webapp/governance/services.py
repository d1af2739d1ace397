"""Approval policies and promotion requests, for every flow registered with the engine (`promotion.FLOWS`).

    policy ──(required 0: promote as before)──────────────────────────────→ confirm
       │ required 1–3
       └─→ request (bound to the preview: `seen`, `diff_hash`) ─→ approve × n ─→ approved ─→ apply ─→ confirm
                                   │                 │ reject → rejected         (or applies itself)
                                   └─ withdraw       └─ production moved → stale (409, fresh preview)

Every path that writes a governed promotion goes through `confirm` here (the flows' `promote` call it): with a
policy requiring approval it is refused (409 `approval_required`) unless it applies an approved request or an
admin overrides with a reason. Nothing is applied that nobody reviewed: approving and applying reopen the flow's
promotion under its locks and compare what it would do now with what the requester saw; anything moved marks
the request `stale` and answers 409 with the fresh preview.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import current_app
from sqlalchemy import column, func, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp.accounts.models import Membership, Role, User, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Flag, Line, Text, whole
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.extensions import db, utcnow
from webapp.governance.models import (
    WORKSPACE_SUBJECT,
    WORLDS_SUBJECT,
    Approval,
    ApprovalPolicy,
    Decision,
    PromotionRequest,
    RequestState,
    ReviewSubscription,
)
from webapp.notify import delivery
from webapp.outbox import services as outbox
from webapp.promotion import FLOWS, GovernedPromotion, Preview, PreviewChanged, changed_since_opened
from webapp.promotion import confirm as engine_confirm
from webapp.webhooks import services as webhooks

Result = TypeVar("Result")
REVIEW_SOURCE = "promotion_request"  # the delivery ledger's source type of review messages
NOTIFY_EFFECT = "governance.notify_reviewers"
# What a preview shows that is not part of what was reviewed: the token, the cache's size, the output check.
VOLATILE = frozenset({"preview_token", "cache_entries", "output_check"})
# The processes table as far as a policy's subject needs it (governance sits below the processes flow).
_PROCESSES = table("processes", column("id"), column("workspace_id"))


# -- policies -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    required_approvals: int = 0
    approver_role: Role = Role.promoter
    requester_may_approve: bool = False
    subject: str | None = None  # the row it comes from; None: nobody set one (0 approvals)

    def as_json(self) -> dict[str, Any]:
        return {"required_approvals": self.required_approvals, "approver_role": self.approver_role.name,
                "requester_may_approve": self.requester_may_approve, "from": self.subject}


class PolicyCommand(Command):
    required_approvals: whole(0, 3) = 0
    approver_role: Literal["promoter", "admin"] = "promoter"
    requester_may_approve: Flag = False


def _policy(row: ApprovalPolicy) -> Policy:
    return Policy(row.required_approvals, row.approver_role, row.requester_may_approve, row.subject)


def policy_for(workspace_id: int, subjects: Sequence[str]) -> Policy:
    """The policy that governs a promotion: its most specific subject's row, else 0 approvals."""
    rows = {r.subject: r for r in db.session.scalars(
        select(ApprovalPolicy).where(ApprovalPolicy.workspace_id == workspace_id,
                                     ApprovalPolicy.subject.in_(list(subjects))))}
    return next((_policy(rows[s]) for s in subjects if s in rows), Policy())


def check_subject(actor: Actor, subject: str) -> int | None:
    """The process id of a `process:<id>` subject of this workspace (404 otherwise); None for the others."""
    if subject in (WORKSPACE_SUBJECT, WORLDS_SUBJECT):
        return None
    kind, _, raw = subject.partition(":")
    if kind == "process" and raw.isdecimal() and len(raw) < 12:
        found = db.session.scalar(select(_PROCESSES.c.id).where(_PROCESSES.c.id == int(raw),
                                                                _PROCESSES.c.workspace_id == actor.workspace_id))
        if found is not None:
            return found
    raise NotFound(f"No policy subject {subject[:40]!r} here: use workspace, worlds or a process of this workspace.")


def policies(actor: Actor) -> dict[str, Policy]:
    """Every policy row of the workspace by subject (the settings page)."""
    return {r.subject: _policy(r) for r in db.session.scalars(
        select(ApprovalPolicy).where(ApprovalPolicy.workspace_id == actor.workspace_id))}


def set_policy(actor: Actor, subject: str, command: PolicyCommand) -> Policy:
    """An admin sets the policy of `subject`. A request already open keeps the policy it was asked under."""
    actor.require(Role.admin, "set approval policies")
    process_id = check_subject(actor, subject)
    row = db.session.scalar(select(ApprovalPolicy).where(ApprovalPolicy.workspace_id == actor.workspace_id,
                                                         ApprovalPolicy.subject == subject))
    if row is None:
        row = ApprovalPolicy(workspace_id=actor.workspace_id, subject=subject, process_id=process_id)
        db.session.add(row)
    row.required_approvals = command.required_approvals
    row.approver_role = Role[command.approver_role]
    row.requester_may_approve = command.requester_may_approve
    row.updated_at, row.updated_by_id = utcnow(), actor.user_id
    audit.record(actor, "policy.updated", "approval_policy", subject, command.model_dump())
    _commit_or_conflict("Another admin changed this policy at the same moment; look again.")
    return _policy(row)


def clear_policy(actor: Actor, subject: str) -> None:
    """An override goes: the process (or world builds) follows the workspace's policy again."""
    actor.require(Role.admin, "set approval policies")
    check_subject(actor, subject)
    if subject == WORKSPACE_SUBJECT:
        raise Invalid("The workspace's policy can be set to 0 approvals, not removed.")
    row = db.session.scalar(select(ApprovalPolicy).where(ApprovalPolicy.workspace_id == actor.workspace_id,
                                                         ApprovalPolicy.subject == subject))
    if row is not None:
        db.session.delete(row)
        audit.record(actor, "policy.cleared", "approval_policy", subject, {})
        db.session.commit()


# -- the gate every governed promotion passes ----------------------------------------------------------------


class ApprovalRequired(Conflict):
    code = "approval_required"
    default_message = "This promotion needs approval: request it, and it applies once it is approved."


def confirm(promotion: GovernedPromotion[Result], preview_token: str | None, *,
            override_reason: str | None = None) -> Result:
    """The engine's confirm for a flow's direct promote: refused where the policy requires approval, unless an
    admin applies it without approval and says why (the audit log and the request history keep the reason)."""
    actor = promotion.actor
    policy = policy_for(actor.workspace_id, promotion.policy_subjects())
    if not policy.required_approvals:
        return engine_confirm(promotion, preview_token)
    if override_reason is None:
        db.session.rollback()  # the flow's locks
        raise ApprovalRequired(f"{promotion.title()} needs {_approvals(policy.required_approvals)} first: "
                               "request the promotion instead.", details=policy.as_json())
    actor.require(Role.admin, "apply a promotion without approval")
    reason = override_reason.strip()
    if not reason:
        db.session.rollback()
        raise Invalid("Say why it cannot wait for approval: the reason goes into the audit log and the history.",
                      details={"override_reason": "required"})
    row = _new_request(promotion, policy, getattr(promotion, "change_notes", ""), apply_when_approved=False)
    row.state = RequestState.applied
    row.decided_at = utcnow()

    def applied(result: Result) -> None:
        db.session.add(row)
        db.session.flush()
        record_applied(actor, row, result, override_reason=reason)

    return engine_confirm(promotion, preview_token, also=applied)


def _approvals(n: int) -> str:
    return f"{n} approval{'' if n == 1 else 's'}"


# -- requests ------------------------------------------------------------------------------------------------


class RequestStale(PreviewChanged):
    code = "request_stale"
    default_message = ("Production (or the connection room) changed after this promotion was requested; nobody "
                       "reviewed what it would do now. The request is stale: request it again from the new preview.")


class RequestCommand(Command):
    flow: Literal["process", "world"]
    source: Any  # the flow's source: a version id, or [project id, connection room id, direction]
    preview_token: Line = ""
    change_notes: Text = ""
    apply_when_approved: Flag = False


def fingerprint(preview: Preview) -> str:
    """A hash of what a preview shows a reviewer (its diff, rooms, exits, conflicts), less what moves by itself."""
    shown = {k: v for k, v in preview.as_json().items() if k not in VOLATILE}
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()


def plain_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def kept_columns(promotion: GovernedPromotion[Any], change_notes: str, seen: Any = None,
                 diff_hash: str | None = None) -> dict[str, Any]:
    """The columns a request and a schedule share (`KeptPromotion`), from the flow's locked promotion: what the
    dialog saw of the target and its fingerprint, unless a reviewed request's are given."""
    return {"workspace_id": promotion.actor.workspace_id, "flow": promotion.flow,
            "source": plain_json(promotion.source()), "source_key": promotion.source_key(),
            "seen": plain_json(promotion.seen_now()) if diff_hash is None else seen,
            "diff_hash": diff_hash or fingerprint(promotion.fresh_preview()), "title": promotion.title()[:255],
            "change_notes": change_notes or "", **promotion.links()}


def _new_request(promotion: GovernedPromotion[Any], policy: Policy, change_notes: str, *,
                 apply_when_approved: bool) -> PromotionRequest:
    return PromotionRequest(
        **kept_columns(promotion, change_notes), required_approvals=max(policy.required_approvals, 1),
        approver_role=policy.approver_role, requester_may_approve=policy.requester_may_approve,
        apply_when_approved=apply_when_approved, requested_by_id=promotion.actor.user_id)


def reopen_as_shown(actor: Actor, flow: str, source: Any, preview_token: str, change_notes: str,
                    ) -> GovernedPromotion[Any]:
    """The flow's promotion, locked, as the dialog showed it (409 with the fresh preview when the target moved
    since `preview_token`), past the flow's own refusals: what a request and a schedule both start from."""
    promotion = FLOWS[flow].reopen(actor, source, change_notes)
    if preview_token and not promotion.token.still_holds(preview_token, promotion.source(), promotion.seen_now()):
        changed_since_opened(promotion.changed, promotion.fresh_preview)
    promotion.check()
    return promotion


def request_promotion(actor: Actor, command: RequestCommand) -> PromotionRequest:
    """Ask for a promotion the policy says needs approval, bound to the preview the requester saw."""
    promotion = reopen_as_shown(actor, command.flow, command.source, command.preview_token, command.change_notes)
    promotion.check_requester()
    policy = policy_for(actor.workspace_id, promotion.policy_subjects())
    if not policy.required_approvals:
        db.session.rollback()
        raise Conflict(f"{promotion.title()} needs no approval: promote it directly.", code="approval_not_required")
    row = _new_request(promotion, policy, command.change_notes, apply_when_approved=command.apply_when_approved)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _already_open(actor, command.flow, promotion.source_key()) from None
    _event(actor, row, "requested", {"required_approvals": row.required_approvals})
    outbox.add(actor.workspace_id, NOTIFY_EFFECT, {"request_id": row.id})
    _commit_or_conflict(None, lambda: _already_open(actor, row.flow, row.source_key))
    return row


def _already_open(actor: Actor, flow: str, source_key: str) -> Conflict:
    existing = db.session.scalar(select(PromotionRequest).where(
        PromotionRequest.workspace_id == actor.workspace_id, PromotionRequest.flow == flow,
        PromotionRequest.source_key == source_key,
        PromotionRequest.state.in_([RequestState.open, RequestState.approved])))
    return Conflict("This promotion has been requested already; review that request (or withdraw it) instead.",
                    code="request_open", details={"request_id": existing.id if existing else None})


def get_request(actor: Actor, request_id: int, *, for_update: bool = False) -> PromotionRequest:
    query = select(PromotionRequest).where(PromotionRequest.id == request_id,
                                           PromotionRequest.workspace_id == actor.workspace_id)
    # Locked, read again: a caller may have loaded the row before (the API's 404 check before the body).
    row = db.session.scalar(query.with_for_update().execution_options(populate_existing=True) if for_update
                            else query)
    if row is None:
        raise NotFound(f"No promotion request {request_id} in this workspace.")
    return row


def _require_state(row: PromotionRequest, *states: RequestState, doing: str) -> None:
    if row.state not in states:
        db.session.rollback()
        raise Conflict(f"This request is {row.state.value}; it cannot {doing}.", code="request_not_" + states[0].value,
                       details={"request_id": row.id, "state": row.state.value})


def may_review(actor: Actor, row: PromotionRequest) -> str | None:
    """Why `actor` may not approve or reject `row` (None: they may)."""
    if not actor.can(row.approver_role):
        return f"Approving this needs the {row.approver_role.name} role; your role here is {actor.role.name}."
    if actor.user_id is not None and actor.user_id == row.requested_by_id and not row.requester_may_approve:
        return "You asked for this promotion: someone else must review it."
    if reviewed(actor, row):
        return "You have reviewed this request already."
    return None


def reviewed(actor: Actor, row: PromotionRequest) -> bool:
    return actor.user_id is not None and any(d.user_id == actor.user_id for d in row.decisions)


def reopen_as_reviewed(actor: Actor, row: PromotionRequest) -> GovernedPromotion[Any]:
    """The flow's promotion of `row`, locked, provided it would still do what the requester saw; else the request
    is marked stale (committed) and a 409 carries the fresh preview."""
    flow = FLOWS[row.flow]
    try:
        promotion = flow.reopen(actor, row.source, row.change_notes)
    except (Conflict, NotFound) as exc:  # the source went (promoted, archived, deleted): nothing to review
        _mark_stale(actor, row, {"reason": exc.message})
        raise
    if plain_json(promotion.seen_now()) != row.seen or fingerprint(promotion.fresh_preview()) != row.diff_hash:
        preview = promotion.fresh_preview().as_json()
        _mark_stale(actor, row, {"reason": "production changed after the request"})
        raise RequestStale(RequestStale.default_message, details=preview | {"request_id": row.id, "state": "stale"})
    return promotion


def _mark_stale(actor: Actor, row: PromotionRequest, outcome: dict[str, Any]) -> None:
    request_id = row.id
    db.session.rollback()  # the flow's locks and whatever was read under them
    row = db.session.get(PromotionRequest, request_id)
    if row is None or row.state not in (RequestState.open, RequestState.approved):
        return
    row.state, row.decided_at, row.outcome = RequestState.stale, utcnow(), outcome
    _event(actor, row, "stale", outcome)
    db.session.commit()


def decide(actor: Actor, request_id: int, decision: Decision, comment: str = "") -> PromotionRequest:
    """An approver approves or rejects, with a comment. The last approval needed approves the request (and
    applies it, when the requester asked for that)."""
    actor.require(Role.promoter, "review promotions")
    row = get_request(actor, request_id, for_update=True)  # two approvers at once take turns here
    _require_state(row, RequestState.open, doing="be reviewed")
    if (why := may_review(actor, row)) is not None:
        replay = reviewed(actor, row)  # the same member again
        db.session.rollback()
        raise Conflict(why, code="already_reviewed", details={"request_id": request_id}) if replay else Forbidden(why)
    promotion = reopen_as_reviewed(actor, row) if decision is Decision.approve else None
    row.decisions.append(Approval(user_id=actor.user_id, decision=decision, comment=(comment or "").strip()))
    if decision is Decision.reject:
        row.state, row.decided_at = RequestState.rejected, utcnow()
        _event(actor, row, "rejected", {"comment": comment})
        _commit_or_conflict("You reviewed this request at the same moment from somewhere else.")
        return row
    approvals = sum(d.decision is Decision.approve for d in row.decisions)
    done = approvals >= row.required_approvals
    if done:
        row.state, row.decided_at = RequestState.approved, utcnow()
    _event(actor, row, "approved", {"comment": comment, "approvals": approvals, "required": row.required_approvals,
                                    "complete": done})
    if done and row.apply_when_approved and promotion is not None:
        _apply(actor, row, promotion)  # commits the approval with the promotion
        return row
    _commit_or_conflict("You reviewed this request at the same moment from somewhere else.")
    return row


def apply(actor: Actor, request_id: int) -> tuple[PromotionRequest, Any]:
    """An approved request applies: the requester or any promoter; what was reviewed must still hold."""
    actor.require(Role.promoter, "apply promotions")
    row = get_request(actor, request_id, for_update=True)
    _require_state(row, RequestState.approved, doing="be applied (it needs its approvals first)")
    return row, _apply(actor, row, reopen_as_reviewed(actor, row))


def _apply(actor: Actor, row: PromotionRequest, promotion: GovernedPromotion[Result]) -> Result:
    def applied(result: Result) -> None:
        row.state = RequestState.applied
        record_applied(actor, row, result)

    return engine_confirm(promotion, None, also=applied)


def record_applied(actor: Actor, row: PromotionRequest, result: Any, override_reason: str | None = None) -> None:
    row.applied_at, row.applied_by_id = utcnow(), actor.user_id
    shown = result.as_json() if hasattr(result, "as_json") else {}
    row.outcome = {"result": plain_json(shown)} | ({"override_reason": override_reason} if override_reason else {})
    _event(actor, row, "applied", {"override_reason": override_reason} if override_reason else {})


def withdraw(actor: Actor, request_id: int) -> PromotionRequest:
    row = get_request(actor, request_id, for_update=True)
    if actor.user_id != row.requested_by_id and not actor.can(Role.admin):
        db.session.rollback()
        raise Forbidden("Only the requester (or an admin) may withdraw a request.")
    _require_state(row, RequestState.open, RequestState.approved, doing="be withdrawn")
    row.state, row.decided_at = RequestState.withdrawn, utcnow()
    _event(actor, row, "withdrawn", {}, webhook=False)
    db.session.commit()
    return row


def _event(actor: Actor, row: PromotionRequest, what: str, details: dict[str, Any], *, webhook: bool = True) -> None:
    data = {"request_id": row.id, "flow": row.flow, "title": row.title, "state": row.state.value,
            **row_links(row), **details}
    audit.record(actor, f"promotion.{what}", "promotion_request", row.id, data)
    if webhook:
        webhooks.emit(row.workspace_id, f"promotion.{what}", data)


def row_links(row: PromotionRequest) -> dict[str, int]:
    return {k: v for k, v in (("process_id", row.process_id), ("build_project_id", row.build_project_id)) if v}


def _commit_or_conflict(message: str | None, error: Any = None) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise (error() if error else Conflict(message or "That changed at the same moment; look again.")) from None


# -- reading -------------------------------------------------------------------------------------------------


def waiting(actor: Actor) -> list[PromotionRequest]:
    """Open and approved requests of the workspace, oldest first (the "Waiting for review" list)."""
    return list(db.session.scalars(
        select(PromotionRequest).where(PromotionRequest.workspace_id == actor.workspace_id,
                                       PromotionRequest.state.in_([RequestState.open, RequestState.approved]))
        .options(selectinload(PromotionRequest.decisions))
        .order_by(PromotionRequest.created_at, PromotionRequest.id)))


def listing(actor: Actor, states: Sequence[RequestState] = (), limit: int = 50) -> list[PromotionRequest]:
    """The workspace's requests in `states` (every state when empty), newest first (the API's list)."""
    query = select(PromotionRequest).where(PromotionRequest.workspace_id == actor.workspace_id)
    if states:
        query = query.where(PromotionRequest.state.in_(list(states)))
    return list(db.session.scalars(query.order_by(PromotionRequest.id.desc()).limit(limit)))


def waiting_for(actor: Actor) -> int:
    """How many open requests `actor` could review now (the nav's badge): `may_review` as one count query."""
    if not actor.can(Role.promoter):
        return 0
    reviewed = select(Approval.id).where(Approval.request_id == PromotionRequest.id,
                                         Approval.user_id == actor.user_id).exists()
    own = PromotionRequest.requested_by_id == actor.user_id
    return db.session.scalar(select(func.count()).select_from(PromotionRequest).where(
        PromotionRequest.workspace_id == actor.workspace_id, PromotionRequest.state == RequestState.open,
        PromotionRequest.approver_role.in_([r for r in Role if actor.can(r)]),
        or_(PromotionRequest.requester_may_approve, ~own, PromotionRequest.requested_by_id.is_(None)),
        ~reviewed)) or 0


def for_links(workspace_id: int, *, process_id: int | None = None, build_project_id: int | None = None,
              limit: int = 20) -> list[PromotionRequest]:
    """The newest requests of one process or one build project (their pages' history)."""
    column = PromotionRequest.process_id if process_id else PromotionRequest.build_project_id
    return list(db.session.scalars(
        select(PromotionRequest).where(PromotionRequest.workspace_id == workspace_id,
                                       column == (process_id or build_project_id))
        .options(selectinload(PromotionRequest.decisions))
        .order_by(PromotionRequest.id.desc()).limit(limit)))


def history(workspace_id: int, **links: int) -> list[dict[str, Any]]:
    """`for_links` as `request_json`, the people named with one query (the process page's and build page's
    "who asked, who approved")."""
    rows = for_links(workspace_id, **links)
    people = names([u for r in rows for u in (r.requested_by_id, r.applied_by_id, *(d.user_id for d in r.decisions))])
    return [request_json(r, people) for r in rows]


def names(user_ids: Sequence[int | None]) -> dict[int, str]:
    ids = [u for u in set(user_ids) if u]
    return {uid: email for uid, email in db.session.execute(select(User.id, User.email).where(User.id.in_(ids)))} \
        if ids else {}


def request_json(row: PromotionRequest, people: dict[int, str] | None = None) -> dict[str, Any]:
    people = people if people is not None else names([row.requested_by_id, row.applied_by_id,
                                                     *(d.user_id for d in row.decisions)])
    return {"id": row.id, "flow": row.flow, "source": row.source, "title": row.title, "state": row.state.value,
            "change_notes": row.change_notes, "required_approvals": row.required_approvals,
            "approver_role": row.approver_role.name, "requester_may_approve": row.requester_may_approve,
            "apply_when_approved": row.apply_when_approved, "diff_hash": row.diff_hash,
            "requested_by": people.get(row.requested_by_id or 0), "created_at": row.created_at.isoformat(),
            "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            "applied_at": row.applied_at.isoformat() if row.applied_at else None,
            "applied_by": people.get(row.applied_by_id or 0), "outcome": row.outcome,
            "decisions": [{"by": people.get(d.user_id or 0), "decision": d.decision.value, "comment": d.comment,
                           "at": d.created_at.isoformat()} for d in row.decisions],
            **row_links(row)}


# -- telling reviewers ---------------------------------------------------------------------------------------


def subscribe(actor: Actor, on: bool) -> bool:
    """A member opts in (or out) of being told of requests they may review."""
    row = db.session.get(ReviewSubscription, (actor.workspace_id, actor.user_id))
    if on and row is None:
        db.session.add(ReviewSubscription(workspace_id=actor.workspace_id, user_id=actor.user_id))
    elif not on and row is not None:
        db.session.delete(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same member, twice at once: one row either way
        db.session.rollback()
    return on


def subscribed(actor: Actor) -> bool:
    return db.session.get(ReviewSubscription, (actor.workspace_id, actor.user_id)) is not None


@outbox.handler(NOTIFY_EFFECT)
def _notify_reviewers(effect: Any) -> dict[str, Any]:
    """Each opted-in member who may review the request is told once (the ledger's key per request and member)."""
    row = db.session.get(PromotionRequest, effect.payload["request_id"])
    if row is None or row.state is not RequestState.open:
        return {"sent": 0, "why": "not open"}
    members = db.session.execute(
        select(Membership.user_id, Membership.role).join(
            ReviewSubscription, (ReviewSubscription.user_id == Membership.user_id)
            & (ReviewSubscription.workspace_id == Membership.workspace_id))
        .where(Membership.workspace_id == row.workspace_id)).all()
    people = names([row.requested_by_id])
    who = people.get(row.requested_by_id or 0, "Someone")
    link = current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + f"/reviews/{row.id}"
    messages = [delivery.Message(f"review:{row.id}:{user_id}", user_id, f"Review requested: {row.title}",
                                 f"{who} asks you to review {row.title}. Open {link} to see the diff and approve "
                                 "or reject it.")
                for user_id, role in members
                if role >= row.approver_role and (row.requester_may_approve or user_id != row.requested_by_id)]
    zone = db.session.get(Workspace, row.workspace_id).zone
    outcome = delivery.deliver(row.workspace_id, REVIEW_SOURCE, row.id, messages,
                               local_time=utcnow().astimezone(zone).time(), dry_run=False, require_opt_in=False)
    return {status.value: n for status, n in outcome.items()}

