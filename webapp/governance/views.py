"""Reviews in the dashboard: the "Waiting for review" list, the review dialog (approve, reject, apply, withdraw),
the opt-in to be told, and the approval policies (admins).

Governance sits below the flows (DESIGN.md rule 11): it never imports them. A request's preview comes from the
flow's registration (`promotion.FLOWS[flow].preview`), and is drawn by the flow's own facts partial, named here by
flow, so the review dialog shows what the confirm dialog showed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from webapp.accounts.context import current_actor, signed_in_only
from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.accounts.views import safe_next
from webapp.commands import from_form
from webapp.errors import BadRequest, Conflict, DomainError, Invalid
from webapp.governance import forms
from webapp.governance import services as governance
from webapp.governance.models import WORKSPACE_SUBJECT, WORLDS_SUBJECT, Decision, PromotionRequest, RequestState
from webapp.htmx import render
from webapp.promotion import FLOWS

bp = Blueprint("governance", __name__)
signed_in_only(bp)

# Each flow's facts partial: what its confirm dialog shows of a preview, shown again to the reviewer.
FACTS = {"process": "processes/_promote_facts.html", "world": "worlds/_promote_facts.html"}
REVIEW = (Role.promoter, "review promotions")
LIVE = (RequestState.open, RequestState.approved)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"Role": Role}


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    """`reviews_waiting()` for the nav: None for members below promoter (no link, no query), else the count of
    requests they could review now (one query, and only when the nav is drawn)."""
    return {"reviews_waiting": _reviews_waiting}


def _reviews_waiting() -> int | None:
    try:
        actor = current_actor()
    except DomainError:
        return None
    return governance.waiting_for(actor) if actor.can(Role.promoter) else None


def _source_link(row: PromotionRequest) -> str | None:
    """Where the promoted thing lives: the version's page, or the build project's."""
    if row.flow == "process" and isinstance(row.source, int):
        return url_for("processes.version", version_id=row.source)
    if row.build_project_id:
        return url_for("worlds.detail", project_id=row.build_project_id)
    return None


@bp.get("/reviews")
def index() -> Response:
    actor = current_actor()
    actor.require(*REVIEW)
    rows = governance.waiting(actor)
    people = governance.names([r.requested_by_id for r in rows])
    return render("governance/index.html", rows=rows, people=people, subscribed=governance.subscribed(actor),
                  reviewable={r.id: governance.may_review(actor, r) is None for r in rows})


def _review(actor: Actor, request_id: int, status: int = 200, message: str | None = None) -> Response:
    """The review dialog: the request, its decisions, and — while it is live — the flow's preview as it is now."""
    row = governance.get_request(actor, request_id)
    preview, preview_error, moved = None, None, False
    if row.state in LIVE or row.state is RequestState.stale:
        try:
            preview = FLOWS[row.flow].preview(actor, row.source)
        except DomainError as exc:
            preview_error = exc.message
        else:
            moved = row.state in LIVE and governance.fingerprint(preview) != row.diff_hash
    people = governance.names([row.requested_by_id, row.applied_by_id, *(d.user_id for d in row.decisions)])
    mine = actor.user_id is not None and actor.user_id == row.requested_by_id
    return render("governance/review.html", status=status, row=row, request_data=governance.request_json(row, people),
                  preview=preview, preview_error=preview_error, moved=moved, facts=FACTS.get(row.flow),
                  message=message, why_not=governance.may_review(actor, row) if row.state is RequestState.open
                  else None, may_apply=row.state is RequestState.approved and actor.can(Role.promoter),
                  may_withdraw=row.state in LIVE and (mine or actor.can(Role.admin)),
                  source_link=_source_link(row), subscribed=governance.subscribed(actor))


@bp.get("/reviews/<int:request_id>")
def review(request_id: int) -> Response:
    actor = current_actor()
    actor.require(*REVIEW)
    return _review(actor, request_id)


def _back(request_id: int, message: str) -> WerkzeugResponse:
    flash(message, "success")
    return redirect(url_for(".review", request_id=request_id), code=303)


def _refused(actor: Actor, request_id: int, refusal: DomainError) -> Response:
    """An action refused (stale, wrong state, not yours to review): the dialog again, the refusal on top (an
    unknown request: the 404 page). A stale request shows the fresh preview: what it would do now, which nobody
    reviewed."""
    if not actor.can(Role.promoter):  # below the dialog's own role: the plain 403 page
        raise refusal
    return _review(actor, request_id, refusal.status, refusal.message)


def decide(request_id: int, decision: str) -> Any:
    actor = current_actor()
    try:
        form = from_form(forms.Review)
        row = governance.decide(actor, request_id, Decision[decision], form.comment)
    except DomainError as exc:
        return _refused(actor, request_id, exc)
    if row.state is RequestState.applied:
        return _back(row.id, f"Approved and applied: {row.title}.")
    if row.state is RequestState.approved:
        return _back(row.id, f"Approved: {row.title} may be applied now.")
    done = sum(d.decision is Decision.approve for d in row.decisions)
    return _back(row.id, f"Rejected: {row.title}." if decision == "reject"
                 else f"Approved ({done} of {row.required_approvals}): {row.title}.")


for _decision in Decision:
    bp.add_url_rule(f"/reviews/<int:request_id>/{_decision.value}", "decide", decide, methods=["POST"],
                    defaults={"decision": _decision.value})


@bp.post("/reviews/<int:request_id>/apply")
def apply(request_id: int) -> Any:
    actor = current_actor()
    try:
        row, _result = governance.apply(actor, request_id)
    except DomainError as exc:
        return _refused(actor, request_id, exc)
    return _back(row.id, f"Applied: {row.title}.")


@bp.post("/reviews/<int:request_id>/withdraw")
def withdraw(request_id: int) -> Any:
    actor = current_actor()
    try:
        row = governance.withdraw(actor, request_id)
    except DomainError as exc:
        return _refused(actor, request_id, exc)
    return _back(row.id, f"Withdrawn: {row.title}.")


@bp.post("/reviews/subscription")
def subscription() -> Any:
    actor = current_actor()
    actor.require(*REVIEW)
    on = governance.subscribe(actor, from_form(forms.Subscription).on)
    flash("You will be told when a promotion waits for your review." if on
          else "You will not be told of promotions waiting for review.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for(".index"), code=303)


# -- policies (admins) ---------------------------------------------------------------------------------------


def _policy_page(actor: Actor, status: int = 200, message: str | None = None) -> Response:
    actor.require(Role.admin, "set approval policies")
    return render("governance/policy.html", status=status, message=message, policies=governance.policies(actor),
                  default_policy=governance.Policy(),
                  subjects=[(WORKSPACE_SUBJECT, "Workspace default"), (WORLDS_SUBJECT, "World builds")])


@bp.get("/reviews/policy")
def policy() -> Response:
    return _policy_page(current_actor())


def _after_policy(message: str) -> WerkzeugResponse:
    flash(message, "success")
    return redirect(safe_next(request.form.get("next")) or url_for(".policy"), code=303)


@bp.post("/reviews/policy")
def set_policy() -> Any:
    actor = current_actor()
    actor.require(Role.admin, "set approval policies")  # before the form: an editor gets 403, not a 422
    try:
        form = from_form(forms.PolicyForm)
        saved = governance.set_policy(actor, form.subject, form)
    except (BadRequest, Invalid, Conflict) as exc:
        return _policy_page(actor, exc.status, exc.message)
    n = saved.required_approvals
    return _after_policy(f"Saved: promotions need {n} approval{'' if n == 1 else 's'}"
                         + (f" from {'an admin' if saved.approver_role is Role.admin else 'a promoter or admin'}."
                            if n else "."))


@bp.post("/reviews/policy/clear")
def clear_policy() -> Any:
    actor = current_actor()
    actor.require(Role.admin, "set approval policies")
    try:
        governance.clear_policy(actor, request.form.get("subject", ""))
    except (Invalid, Conflict) as exc:
        return _policy_page(actor, exc.status, exc.message)
    return _after_policy("The override is gone: the workspace's policy applies.")
