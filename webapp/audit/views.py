"""The audit page (filters, pages of 100 by cursor) and its streamed CSV/JSON export; every member can read it."""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask_login import login_required

from webapp.accounts import services as accounts
from webapp.accounts.context import current_actor
from webapp.audit import sentences, services
from webapp.audit.services import AuditFilter
from webapp.errors import BadRequest
from webapp.extensions import utcnow
from webapp.htmx import render_page

bp = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 100
FILTERS = ("action", "actor", "actor_match", "resource", "since", "until")


def _filter_args() -> dict[str, str]:
    return {name: request.args[name] for name in FILTERS if request.args.get(name)}


def _filter(workspace_id: int) -> AuditFilter:
    return AuditFilter.from_args(request.args, accounts.time_zone(workspace_id))


@bp.get("")
@login_required
def index() -> Response:
    workspace_id = current_actor().workspace_id
    zone = accounts.time_zone(workspace_id)
    try:  # a filter that cannot be read is said beside the form, which keeps what was typed
        flt = AuditFilter.from_args(request.args, zone)
        page = services.page_events(workspace_id, flt, older=request.args.get("older"),
                                    newer=request.args.get("newer"), per_page=PER_PAGE)
    except BadRequest as exc:
        return render_page("audit/index.html", "events", exc.status, page=None, rows=[], filters=_filter_args(),
                           problem=exc.message)
    return render_page("audit/index.html", "events", page=page, rows=sentences.rows(workspace_id, page.items, zone),
                       filters=_filter_args(), problem=None)


@bp.get("/export")
@login_required
def export() -> Response:
    fmt = request.args.get("format", "csv")
    workspace_id = current_actor().workspace_id
    chunks, mimetype = services.export(workspace_id, _filter(workspace_id), fmt)
    filename = f"audit-{utcnow():%Y%m%dT%H%M%SZ}.{fmt}"
    # Streamed: the rows are read from the database as the client takes them (the chunks need no request context).
    return Response(chunks, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
