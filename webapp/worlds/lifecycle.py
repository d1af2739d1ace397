"""A build project's life: its statuses, who may take each step, and review (submit, approve, reject).

    draft ─submit→ submitted ─approve→ approved ─build→ built ─promote→ live
                       └─reject (reason)→ draft               └←unpromote─┘

`build` is in `sandbox`, `promote` in `promotion`, `unpromote` (return to sandbox) in `unpromotion`; each checks
its step here. Who may walk a sandbox is here too (`may_walk`).
"""

from __future__ import annotations

from typing import Any

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import Conflict, Invalid, NotFound
from webapp.extensions import db
from webapp.worlds.models import BuildProject, ProjectStatus
from webapp.worlds.queries import get_project

# What each step needs (views and the API check before reading a body, so a viewer gets 403 first).
DESIGN = (Role.editor, "design build projects")
REVIEW = (Role.promoter, "approve or reject build projects")
BUILD = (Role.editor, "build sandboxes")
PROMOTE = (Role.promoter, "promote builds into the live world")
UNPROMOTE = (Role.promoter, "return live areas to the sandbox")
FORCE_UNPROMOTE = (Role.admin, "force a return to the sandbox that removes other rooms' exits")

# name → (from which statuses, to which status)
TRANSITIONS: dict[str, tuple[frozenset[ProjectStatus], ProjectStatus]] = {
    "submit": (frozenset({ProjectStatus.draft}), ProjectStatus.submitted),
    "approve": (frozenset({ProjectStatus.submitted}), ProjectStatus.approved),
    "reject": (frozenset({ProjectStatus.submitted}), ProjectStatus.draft),
    "build": (frozenset({ProjectStatus.approved}), ProjectStatus.built),
    "promote": (frozenset({ProjectStatus.built}), ProjectStatus.live),
    "unpromote": (frozenset({ProjectStatus.live}), ProjectStatus.built),
}
TRANSITION_ROLES = {"submit": DESIGN, "approve": REVIEW, "reject": REVIEW, "build": BUILD, "promote": PROMOTE,
                    "unpromote": UNPROMOTE}
# The audit action of each review step. Spelled out: `name + "d"` once made "build.rejectd" (rows written so
# keep that text).
REVIEW_ACTIONS = {"submit": "build.submitted", "approve": "build.approved", "reject": "build.rejected"}


class InvalidTransition(Conflict):
    code = "invalid_transition"


def allowed_transitions(status: ProjectStatus) -> list[str]:
    return [name for name, (sources, _) in TRANSITIONS.items() if status in sources]


def require_transition(project: BuildProject, name: str) -> ProjectStatus:
    sources, target = TRANSITIONS[name]
    if project.status not in sources:
        allowed = allowed_transitions(project.status)
        raise InvalidTransition(
            f"Cannot {name} a project that is {project.status.value}; "
            f"allowed from {project.status.value}: {', '.join(allowed) if allowed else 'nothing'}.",
            details={"status": project.status.value, "allowed": allowed})
    return target


def may_walk(actor: Actor, project: BuildProject) -> bool:
    """Whether `actor` may walk the project's sandbox: its owner, promoters and admins (the builder who made it
    and those who decide on it); viewers and other editors may not, and are told nothing is there (404)."""
    return actor.can(Role.promoter) or (project.owner_id is not None and project.owner_id == actor.user_id)


def transition(actor: Actor, project_id: int, name: str, reason: str | None = "") -> BuildProject:
    """submit, approve, or reject (with a reason, back to draft). `build` and `promote` have their own."""
    if name not in ("submit", "approve", "reject"):
        raise NotFound(f"No transition {name!r}.")
    actor.require(*TRANSITION_ROLES[name])
    project = get_project(actor, project_id, for_update=True)
    target = require_transition(project, name)
    details: dict[str, Any] = {"from": project.status.value, "to": target.value}
    if name == "submit" and not project.rooms:
        raise Invalid("Add at least one room before submitting the project for review.")
    if name == "reject":
        reason = (reason or "").strip()
        if not reason or len(reason) > 2000:
            raise Invalid("Say why the project is rejected (1 to 2,000 characters).",
                          details={"reason": "required, at most 2,000 characters"})
        project.rejection_reason = details["reason"] = reason
    elif name == "submit":
        project.rejection_reason = None
    project.status = target
    audit.record(actor, REVIEW_ACTIONS[name], "build_project", project.id, details)
    db.session.commit()
    return project
