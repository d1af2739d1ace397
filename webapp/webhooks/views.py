"""Webhook endpoints: list, create (the signing secret is shown once), disable."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for
from flask_login import login_required

from webapp.accounts.context import admin_only, current_actor
from webapp.htmx import no_store, render_page, toast_or_redirect
from webapp.webhooks import services
from webapp.webhooks.services import SIGNATURE_HEADER

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")
admin_only(bp, "manage webhooks")  # the list shows where the workspace's events go: admins only, read or write


def _page(created: Any = None, secret: str | None = None) -> Response:
    response = render_page("webhooks/index.html", "endpoints", endpoints=services.list_endpoints(current_actor()),
                           created=created, secret=secret, signature_header=SIGNATURE_HEADER)
    return no_store(response) if secret else response


@bp.get("")
@login_required
def index() -> Response:
    return _page()


@bp.post("")
@login_required
def create() -> Response:
    endpoint, secret = services.create_endpoint(current_actor(), request.form.get("url", ""),
                                                request.form.get("description", ""))
    return _page(endpoint, secret)


@bp.post("/<int:endpoint_id>/disable")
@login_required
def disable(endpoint_id: int) -> Response:
    endpoint = services.disable_endpoint(current_actor(), endpoint_id)
    return toast_or_redirect(_page, f"Webhook {endpoint.url_hint} disabled.", url_for("webhooks.index"))
