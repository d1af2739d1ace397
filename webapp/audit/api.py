"""The audit log over JSON: `GET /api/v1/audit` (personal access token, viewer+)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response, jsonify, request, url_for
from pydantic import BaseModel, Field

from webapp.accounts import services as accounts
from webapp.accounts.context import api_actor
from webapp.accounts.models import Role
from webapp.apiblueprint import bp
from webapp.audit import services
from webapp.commands import Command, Text, from_query, whole
from webapp.openapi import Reply, documented


class AuditQuery(Command):
    """The audit log's filters (dates without an offset are in the workspace's time zone)."""

    action: Text = Field("", description="An action prefix: `version` matches `version.promoted`, …")
    since: Text = Field("", description="An ISO 8601 date or date-time, inclusive.")
    until: Text = Field("", description="An ISO 8601 date (the whole day) or date-time, inclusive.")
    actor: Text = Field("", description="The actor's label (an e-mail, `bot (telegram)`, …), matched exactly "
                                         "(ignoring case) unless `actor_match` is `contains`.")
    actor_match: Literal["exact", "contains"] = Field(
        "exact", description="`exact` (the default): only that actor; `contains`: every actor whose label has it.")
    resource: Text = Field("", description="`type` or `type:id`, e.g. `process:3`.")
    limit: whole(1, 1000) = 100
    older: Text = Field("", description="A cursor: only events older than it. Follow the `Link: <…>; rel=\"next\"` "
                                         "header rather than building one.")


class AuditEventOut(BaseModel):
    id: int
    action: str
    actor: str
    resource_type: str
    resource_id: str | None
    details: dict[str, Any]
    created_at: datetime


@bp.get("/audit")
@documented("Audit events of the token's workspace, newest first", query=AuditQuery,
            responses={200: Reply("Up to `limit` events.", schema=list[AuditEventOut],
                                  headers={"Link": "The next (older) page (RFC 8288 `rel=\"next\"`, a cursor "
                                                   "in `older`), while there is one."})})
def audit_events() -> Response:
    actor = api_actor()
    actor.require(Role.viewer, "read the audit log")
    query = from_query(AuditQuery)
    flt = services.AuditFilter.from_args(request.args, accounts.time_zone(actor.workspace_id))
    page = services.page_events(actor.workspace_id, flt, older=query.older or None, per_page=query.limit)
    response = jsonify([e.as_json() for e in page.items])
    # The body stays the contract's plain list; the way on is a keyset cursor in the headers (RFC 8288).
    if page.older:
        args = {name: value for name, value in request.args.items() if name != "older"}
        response.headers["Link"] = f'<{url_for(".audit_events", **args, older=page.older)}>; rel="next"'
    return response
