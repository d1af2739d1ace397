from __future__ import annotations

from flask import Response, jsonify, request

from webapp.accounts.context import api_actor
from webapp.accounts.models import Role
from webapp.api import bp
from webapp.audit import services


@bp.get("/audit")
def audit_events() -> Response:
    actor = api_actor()
    actor.require(Role.viewer, "read the audit log")
    flt = services.AuditFilter.from_args(request.args)
    limit = min(max(request.args.get("limit", 100, type=int), 1), 1000)
    return jsonify([e.as_json() for e in services.list_events(actor.workspace_id, flt, limit=limit)])
