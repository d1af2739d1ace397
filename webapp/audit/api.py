from __future__ import annotations

from flask import Response, jsonify, request

from webapp import inputs
from webapp.accounts import services as accounts
from webapp.accounts.context import api_actor
from webapp.accounts.models import Role
from webapp.api import bp
from webapp.audit import services


@bp.get("/audit")
def audit_events() -> Response:
    actor = api_actor()
    actor.require(Role.viewer, "read the audit log")
    flt = services.AuditFilter.from_args(request.args, accounts.time_zone(actor.workspace_id))
    limit = inputs.whole_number(request.args.get("limit"), "limit", default=100, maximum=1000)
    return jsonify([e.as_json() for e in services.list_events(actor.workspace_id, flt, limit=limit)])
