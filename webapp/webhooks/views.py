"""Webhook endpoints: list, create (the signing secret is shown once), disable; one endpoint's page with its
delivery log, its event filter, a test event and secret rotation (the new secret shown once)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for
from flask_login import login_required

from webapp.accounts.context import admin_only, current_actor
from webapp.errors import Invalid
from webapp.htmx import no_store, render_page, toast_or_redirect
from webapp.webhooks import services
from webapp.webhooks.services import EVENTS, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")
admin_only(bp, "manage webhooks")  # the list shows where the workspace's events go: admins only, read or write


def _events_field() -> list[str]:
    """The form's filter: ticked event checkboxes plus any `prefix.*` typed into the extra field."""
    typed = [part.strip() for part in request.form.get("events_other", "").replace(",", " ").split()]
    return [*request.form.getlist("events"), *typed]


def _page(created: Any = None, secret: str | None = None) -> Response:
    response = render_page("webhooks/index.html", "endpoints", endpoints=services.list_endpoints(current_actor()),
                           created=created, secret=secret, signature_header=SIGNATURE_HEADER, events=EVENTS,
                           tolerance=SIGNATURE_TOLERANCE_SECONDS)
    return no_store(response) if secret else response


def _endpoint_page(endpoint_id: int, secret: str | None = None) -> Response:
    actor = current_actor()
    response = render_page("webhooks/endpoint.html", "endpoint_body",
                           endpoint=services.get_endpoint(actor, endpoint_id),
                           deliveries=services.deliveries(actor, endpoint_id), secret=secret, events=EVENTS,
                           signature_header=SIGNATURE_HEADER, max_overlap=services.MAX_OVERLAP_HOURS)
    return no_store(response) if secret else response


@bp.get("")
@login_required
def index() -> Response:
    return _page()


@bp.post("")
@login_required
def create() -> Response:
    endpoint, secret = services.create_endpoint(current_actor(), request.form.get("url", ""),
                                                request.form.get("description", ""), _events_field())
    return _page(endpoint, secret)


@bp.post("/<int:endpoint_id>/disable")
@login_required
def disable(endpoint_id: int) -> Response:
    endpoint = services.disable_endpoint(current_actor(), endpoint_id)
    return toast_or_redirect(_page, f"Webhook {endpoint.url_hint} disabled.", url_for("webhooks.index"))


@bp.get("/<int:endpoint_id>")
@login_required
def endpoint(endpoint_id: int) -> Response:
    return _endpoint_page(endpoint_id)


@bp.post("/<int:endpoint_id>/test")
@login_required
def send_test(endpoint_id: int) -> Response:
    services.send_test(current_actor(), endpoint_id)
    return toast_or_redirect(lambda: _endpoint_page(endpoint_id), "Test event queued; its delivery shows below.",
                             url_for("webhooks.endpoint", endpoint_id=endpoint_id))


@bp.post("/<int:endpoint_id>/events")
@login_required
def set_events(endpoint_id: int) -> Response:
    services.set_events(current_actor(), endpoint_id, _events_field())
    return toast_or_redirect(lambda: _endpoint_page(endpoint_id), "Event filter saved.",
                             url_for("webhooks.endpoint", endpoint_id=endpoint_id))


@bp.post("/<int:endpoint_id>/rotate")
@login_required
def rotate(endpoint_id: int) -> Response:
    raw = request.form.get("overlap_hours", "24").strip()
    if not raw.isdecimal() or not raw.isascii():
        raise Invalid("The overlap is a whole number of hours.", details={"overlap_hours": "whole number"})
    _, secret = services.rotate_secret(current_actor(), endpoint_id, int(raw))
    return _endpoint_page(endpoint_id, secret)
