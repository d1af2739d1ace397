"""`/`: the desk for a signed-in member (webapp/desk/services.py); the sign-in page for everyone else."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for
from flask_login import current_user

from webapp.accounts.context import current_actor
from webapp.desk import services
from webapp.htmx import render

bp = Blueprint("desk", __name__)


@bp.get("/")
def index() -> Response:
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    actor = current_actor()
    return render("desk/index.html", actor=actor, desk=services.desk(actor))
