"""What the approval forms of the dashboard send (typed at the service boundary, DESIGN.md rule 11), and the
sentence a request's author reads once it is stored. The flows' confirm dialogs use them too."""

from __future__ import annotations

from typing import Any

from webapp.accounts.models import Role
from webapp.accounts.services import Actor
from webapp.commands import Command, Line, Text
from webapp.errors import DomainError
from webapp.governance.models import PromotionRequest
from webapp.governance.services import Policy, PolicyCommand


class Override(Command):
    """An admin's "Apply without approval" on a flow's promote route; absent: an ordinary promote."""

    override_reason: Text | None = None


class Request(Command):
    """A confirm dialog's "Request promotion" (the flow's own fields are the flow's to read)."""

    preview_token: Line = ""
    change_notes: Text = ""
    apply_when_approved: bool = False


class Review(Command):
    """Approve or reject, with a comment."""

    comment: Text = ""


class Subscription(Command):
    on: bool = False


class PolicyForm(PolicyCommand):
    """The policy form of the settings page and of a process page: whose policy, and the policy."""

    subject: Line


def requested_message(row: PromotionRequest) -> str:
    n = row.required_approvals
    return f"Requested: {row.title} needs {n} approval{'' if n == 1 else 's'} before it applies."


def open_request(refusal: DomainError) -> int | None:
    """The request already open for this source, when `refusal` is the 409 `request_open` (the dialog links it)."""
    details = refusal.details if isinstance(refusal.details, dict) else {}
    return details.get("request_id") if refusal.code == "request_open" else None


def dialog_approval(actor: Actor, policy: Policy, request_url: str, open_request: int | None = None) -> dict[str, Any]:
    """What a flow's confirm dialog needs of governance (`components/confirm_form.html`'s `approval`): the policy
    that decides between promoting and requesting, the flow's request route, and whether `actor` may override."""
    return {"policy": policy, "request": request_url, "override": actor.can(Role.admin), "open_request": open_request}
