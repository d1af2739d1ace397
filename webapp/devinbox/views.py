"""/dev/inbox: the demo inbox of a development desk (registered by `init_devinbox` only in development)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, request
from flask_login import current_user, login_required

from webapp.accounts.context import current_actor
from webapp.devinbox import services
from webapp.htmx import render_page

bp = Blueprint("devinbox", __name__, url_prefix="/dev")


@bp.get("/inbox")
@login_required
def inbox() -> Response:
    settings = current_app.config["SETTINGS"]
    view = services.read_inbox(current_actor(), current_user.is_operator, Path(settings.DEV_INBOX_PATH),
                               request.args.get("to") or None)
    return render_page("devinbox/inbox.html", "messages", inbox=view)
