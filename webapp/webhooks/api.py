"""Webhooks over JSON, so a workspace can be set up from CI (personal access token of an admin, like the page):
create (the signing secret in that answer only), list, disable, change the event filter, rotate the secret,
send a test event, read the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, Field

from webapp.accounts.context import api_actor
from webapp.accounts.models import Role
from webapp.apiblueprint import bp
from webapp.commands import Command, Line, from_json, whole
from webapp.openapi import documented
from webapp.webhooks import services
from webapp.webhooks.models import WebhookEndpoint

_EVENTS_HELP = f"Event names ({', '.join(services.EVENTS)}) or prefixes such as `process.*`; empty: every event."


class CreateWebhook(Command):
    url: Line = Field(description="An http(s) URL; stored encrypted, shown afterwards only as scheme://host/….")
    description: Line = ""
    events: list[Line] = Field(default_factory=list, description=_EVENTS_HELP)


class WebhookEvents(Command):
    events: list[Line] = Field(description=_EVENTS_HELP)


class RotateSecret(Command):
    overlap_hours: whole(0, services.MAX_OVERLAP_HOURS) = Field(  # type: ignore[valid-type]
        24, description="Hours the previous secret still signs (a second `v1=`); 0 ends it now.")


class WebhookOut(BaseModel):
    id: int
    url: str = Field(description="scheme://host/… only: the URL may carry credentials")
    description: str
    events: list[str]
    created_at: datetime
    disabled_at: datetime | None
    previous_secret_until: datetime | None


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="The signing secret: in this answer only, never again.")


class TestEventOut(BaseModel):
    delivery: str = Field(description="The event id the POST carries (`X-PromotionDesk-Delivery`).")


class DeliveryOut(BaseModel):
    id: int
    event: str
    delivery: str
    attempt: int
    status_code: int | None
    duration_ms: int
    outcome: Literal["sent", "refused", "unknown"]
    error: str | None
    created_at: datetime
    next_retry_at: datetime | None


def _admin() -> Any:
    actor = api_actor()
    actor.require(Role.admin, "manage webhooks")  # before the body: a promoter gets 403, not a 400 about it
    return actor


def _out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"id": endpoint.id, "url": endpoint.url_hint, "description": endpoint.description,
            "events": list(endpoint.events or []), "created_at": endpoint.created_at.isoformat(),
            "disabled_at": endpoint.disabled_at.isoformat() if endpoint.disabled_at else None,
            "previous_secret_until": (endpoint.previous_secret_until.isoformat()
                                      if endpoint.previous_secret_until else None)}


@bp.get("/webhooks")
@documented("The workspace's webhooks, newest first (admins)", responses={200: list[WebhookOut]})
def list_webhooks() -> Response:
    return jsonify([_out(e) for e in services.list_endpoints(_admin())])


@bp.post("/webhooks")
@documented("Register a webhook (admins); the signing secret is in this answer only", body=CreateWebhook,
            responses={201: WebhookWithSecret, 422: "not an http(s) URL, or an unknown event"})
def create_webhook() -> tuple[Response, int]:
    actor = _admin()
    command = from_json(CreateWebhook)
    endpoint, secret = services.create_endpoint(actor, command.url, command.description, command.events)
    response = jsonify({**_out(endpoint), "secret": secret})
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.post("/webhooks/<int:endpoint_id>/disable")
@documented("Disable a webhook (admins); idempotent", responses={200: WebhookOut})
def disable_webhook(endpoint_id: int) -> Response:
    return jsonify(_out(services.disable_endpoint(_admin(), endpoint_id)))


@bp.post("/webhooks/<int:endpoint_id>/events")
@documented("Set the events a webhook is sent (admins)", body=WebhookEvents,
            responses={200: WebhookOut, 409: "the webhook is disabled", 422: "an unknown event"})
def set_webhook_events(endpoint_id: int) -> Response:
    actor = _admin()
    services.get_endpoint(actor, endpoint_id)  # another workspace's id is a 404 whatever the body
    command = from_json(WebhookEvents)
    return jsonify(_out(services.set_events(actor, endpoint_id, command.events)))


@bp.post("/webhooks/<int:endpoint_id>/rotate-secret")
@documented("Rotate a webhook's signing secret (admins); the new one is in this answer only", body=RotateSecret,
            responses={200: WebhookWithSecret, 409: "the webhook is disabled"})
def rotate_webhook_secret(endpoint_id: int) -> Response:
    actor = _admin()
    command = from_json(RotateSecret)
    endpoint, secret = services.rotate_secret(actor, endpoint_id, command.overlap_hours)
    response = jsonify({**_out(endpoint), "secret": secret})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/webhooks/<int:endpoint_id>/test")
@documented("Send a `webhook.test` event to this webhook alone (admins)",
            responses={202: TestEventOut, 409: "the webhook is disabled"})
def send_webhook_test(endpoint_id: int) -> tuple[Response, int]:
    return jsonify({"delivery": f"evt_{services.send_test(_admin(), endpoint_id)}"}), 202


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
@documented("A webhook's delivery log, newest first (admins): one line per attempt",
            responses={200: list[DeliveryOut]})
def webhook_deliveries(endpoint_id: int) -> Response:
    return jsonify([d.as_json() for d in services.deliveries(_admin(), endpoint_id)])
