"""The audit page (filters, pages of 100) and its CSV/JSON export; every member can read it."""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask_login import login_required

from webapp import inputs
from webapp.accounts import services as accounts
from webapp.accounts.context import current_actor
from webapp.audit import services
from webapp.audit.services import AuditFilter
from webapp.extensions import utcnow
from webapp.htmx import render_page

bp = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 100
FILTERS = ("action", "actor", "resource", "since", "until")


def _filter_args() -> dict[str, str]:
    return {name: request.args[name] for name in FILTERS if request.args.get(name)}


def _filter(workspace_id: int) -> AuditFilter:
    return AuditFilter.from_args(request.args, accounts.time_zone(workspace_id))


@bp.get("")
@login_required
def index() -> Response:
    workspace_id = current_actor().workspace_id
    page = services.page_events(workspace_id, _filter(workspace_id),
                                inputs.whole_number(request.args.get("page"), "page", default=1), PER_PAGE)
    return render_page("audit/index.html", "events", page=page, filters=_filter_args())


@bp.get("/export")
@login_required
def export() -> Response:
    fmt = request.args.get("format", "csv")
    workspace_id = current_actor().workspace_id
    text, mimetype = services.export(workspace_id, _filter(workspace_id), fmt)
    filename = f"audit-{utcnow():%Y%m%dT%H%M%SZ}.{fmt}"
    return Response(text, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
