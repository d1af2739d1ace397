"""What the approval forms of the dashboard send (typed at the service boundary, DESIGN.md rule 11), and the
sentence a request's author reads once it is stored. The flows' confirm dialogs use them too."""

from __future__ import annotations

from webapp.commands import Command, Line, Text
from webapp.errors import DomainError
from webapp.governance.models import PromotionRequest
from webapp.governance.services import PolicyCommand


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
