"""Outgoing webhooks: signed JSON posts about promotions, delivered through the outbox."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import select

from webapp.accounts.models import Role
from webapp.audit import services as audit
from webapp.errors import Invalid, NotFound
from webapp.extensions import db, utcnow
from webapp.notify import transport
from webapp.outbox import services as outbox
from webapp.sealing import seal, sign, unseal
from webapp.webhooks.models import WebhookEndpoint

if TYPE_CHECKING:
    from webapp.accounts.services import Actor
    from webapp.outbox.models import OutboxEffect

SIGNATURE_HEADER = "X-PromotionDesk-Signature"


def _hint(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/…"


def create_endpoint(actor: Actor, url: str, description: str = "") -> tuple[WebhookEndpoint, str]:
    """Register a URL; returns the endpoint and its signing secret, shown once."""
    actor.require(Role.admin, "manage webhooks")
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid("A webhook URL must start with http:// or https:// and name a host.", details={"url": "http(s) URL"})
    secret = "whsec_" + secrets.token_urlsafe(24)
    endpoint = WebhookEndpoint(workspace_id=actor.workspace_id, url_sealed=seal(url), url_hint=_hint(url),
                               secret_sealed=seal(secret), description=(description or "").strip()[:255],
                               created_by_id=actor.user_id)
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, "webhook.created", "webhook", endpoint.id, {"url": endpoint.url_hint})
    db.session.commit()
    return endpoint, secret


def list_endpoints(actor: Actor) -> Sequence[WebhookEndpoint]:
    return db.session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == actor.workspace_id)
        .order_by(WebhookEndpoint.created_at.desc())
    ).all()


def disable_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    actor.require(Role.admin, "manage webhooks")
    endpoint = db.session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.workspace_id == actor.workspace_id))
    if endpoint is None:
        raise NotFound("No such webhook in this workspace.")
    if endpoint.disabled_at is None:
        endpoint.disabled_at = utcnow()
        audit.record(actor, "webhook.disabled", "webhook", endpoint.id, {"url": endpoint.url_hint})
        db.session.commit()
    return endpoint


def emit(workspace_id: int, event: str, data: dict[str, Any]) -> None:
    """Add one delivery effect per active endpoint to the current transaction."""
    endpoint_ids = db.session.scalars(select(WebhookEndpoint.id).where(
        WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.disabled_at.is_(None))).all()
    for endpoint_id in endpoint_ids:
        outbox.add(workspace_id, "webhook.deliver", {"endpoint_id": endpoint_id, "event": event, "data": data})


@outbox.handler("webhook.deliver", outside=True)
def deliver(effect: OutboxEffect) -> dict[str, Any]:
    """POST the event once. A post that provably never arrived (no connection, a 429 or other refusal) raises
    and the outbox retries it; one that may have arrived (no answer after the body went out, a 5xx) raises
    `OutcomeUnknown` and is never repeated."""
    endpoint = db.session.get(WebhookEndpoint, effect.payload["endpoint_id"])
    if endpoint is None or endpoint.disabled_at is not None:
        return {"skipped": "endpoint removed or disabled"}
    body = json.dumps({"id": f"evt_{effect.id}", "event": effect.payload["event"],
                       "created_at": effect.created_at.isoformat(), "data": effect.payload["data"]},
                      separators=(",", ":")).encode("utf-8")
    with transport.watch() as seen:
        try:
            response = requests.post(
                unseal(endpoint.url_sealed), data=body,
                timeout=current_app.config["SETTINGS"].WEBHOOK_TIMEOUT_SECONDS,
                headers={"Content-Type": "application/json", "User-Agent": "PromotionDesk-Webhook/1",
                         "X-PromotionDesk-Event": effect.payload["event"],
                         # Receivers de-duplicate on this id: a delivery may repeat after a crash.
                         "X-PromotionDesk-Delivery": f"evt_{effect.id}",
                         SIGNATURE_HEADER: sign(unseal(endpoint.secret_sealed), body)},
            )
        except requests.RequestException:
            response = None
    # The exception text can contain the URL, and URLs can carry credentials: only the recording's summary.
    outbox.raise_unless_sent(seen.outcome(response is not None and 200 <= response.status_code < 300),
                             endpoint.url_hint, seen.describe())
    assert response is not None  # sent: there was an answer
    return {"status": response.status_code}
