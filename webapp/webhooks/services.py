"""Outgoing webhooks: signed JSON posts about promotions, delivered through the outbox.

Each POST carries `X-PromotionDesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the
Stripe scheme); during a rotation's overlap a second `v1=` is signed with the previous secret. Receivers
refuse a `t` more than SIGNATURE_TOLERANCE_SECONDS from their clock (README, Webhooks)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import select

from webapp.accounts.models import Role
from webapp.audit import services as audit
from webapp.errors import Conflict, Invalid, NotFound
from webapp.extensions import db, utcnow
from webapp.notify import transport
from webapp.notify.transport import Outcome
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus
from webapp.sealing import seal, unseal
from webapp.webhooks.models import WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from webapp.accounts.services import Actor
    from webapp.outbox.models import OutboxEffect

SIGNATURE_HEADER = "X-PromotionDesk-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300  # what the README tells receivers to accept between `t` and their clock
TEST_EVENT = "webhook.test"
# The events a filter may name (a filter entry is one of them or `<prefix>.*`); the test event always goes.
EVENTS = ("process.promoted", "process.rolled_back", "world.promoted", "world.unpromoted", "world.imported",
          "promotion.requested", "promotion.approved", "promotion.rejected", "promotion.applied", "promotion.stale")
_PREFIXES = {e.split(".")[0] for e in EVENTS}
MAX_OVERLAP_HOURS = 168
_FILTER = re.compile(r"^[a-z_]+\.(\*|[a-z_]+)$")


def signature(secrets_: Sequence[str], body: bytes, timestamp: int) -> str:
    """The signature header's value: `t=<timestamp>` and one `v1=` per secret, newest first."""
    signed = f"{timestamp}.".encode() + body
    return ",".join([f"t={timestamp}", *(
        "v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest() for secret in secrets_)])


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    current = [unseal(endpoint.secret_sealed)]
    if endpoint.previous_secret_sealed and endpoint.previous_secret_until and endpoint.previous_secret_until > utcnow():
        current.append(unseal(endpoint.previous_secret_sealed))
    return current


def clean_events(events: Sequence[str] | None) -> list[str]:
    """A filter as stored: known names or known `prefix.*`, each once, in order; empty = every event. 422 else."""
    cleaned: list[str] = []
    for raw in events or ():
        name = str(raw).strip()
        if not name:
            continue
        known = name in EVENTS or (_FILTER.match(name) and name.endswith(".*") and name[:-2] in _PREFIXES)
        if not known:
            raise Invalid(f"Unknown event {name[:64]!r}: use one of {', '.join(EVENTS)} or a prefix such as "
                          "process.*.", details={"events": "unknown event"})
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


def wants(endpoint_events: Sequence[str], event: str) -> bool:
    return not endpoint_events or any(f == event or (f.endswith(".*") and event.startswith(f[:-1]))
                                      for f in endpoint_events)


def _hint(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/…"


def create_endpoint(actor: Actor, url: str, description: str = "",
                    events: Sequence[str] | None = None) -> tuple[WebhookEndpoint, str]:
    """Register a URL (told about `events`, or every event); returns the endpoint and its signing secret,
    shown once."""
    actor.require(Role.admin, "manage webhooks")
    wanted = clean_events(events)
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid("A webhook URL must start with http:// or https:// and name a host.", details={"url": "http(s) URL"})
    secret = "whsec_" + secrets.token_urlsafe(24)
    endpoint = WebhookEndpoint(workspace_id=actor.workspace_id, url_sealed=seal(url), url_hint=_hint(url),
                               secret_sealed=seal(secret), description=(description or "").strip()[:255],
                               events=wanted, created_by_id=actor.user_id)
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, "webhook.created", "webhook", endpoint.id, {"url": endpoint.url_hint, "events": wanted})
    db.session.commit()
    return endpoint, secret


def list_endpoints(actor: Actor) -> Sequence[WebhookEndpoint]:
    return db.session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == actor.workspace_id)
        .order_by(WebhookEndpoint.created_at.desc())
    ).all()


def get_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    actor.require(Role.admin, "manage webhooks")
    endpoint = db.session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.workspace_id == actor.workspace_id))
    if endpoint is None:
        raise NotFound("No such webhook in this workspace.")
    return endpoint


def _active_endpoint(actor: Actor, endpoint_id: int, doing: str) -> WebhookEndpoint:
    endpoint = get_endpoint(actor, endpoint_id)
    if endpoint.disabled_at is not None:
        raise Conflict(f"This webhook is disabled: it cannot {doing}.")
    return endpoint


def set_events(actor: Actor, endpoint_id: int, events: Sequence[str] | None) -> WebhookEndpoint:
    """Change which events the endpoint is sent (empty: every event)."""
    wanted = clean_events(events)
    endpoint = _active_endpoint(actor, endpoint_id, "change its events")
    if endpoint.events != wanted:
        endpoint.events = wanted
        audit.record(actor, "webhook.events_changed", "webhook", endpoint.id, {"url": endpoint.url_hint,
                                                                              "events": wanted})
        db.session.commit()
    return endpoint


def rotate_secret(actor: Actor, endpoint_id: int, overlap_hours: int = 24) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, shown once; the one it replaces still signs (a second `v1=`) for `overlap_hours`
    (0–168), so receivers can switch without dropping a delivery. A rotation inside an overlap ends the
    older secret's: only the two newest ever sign."""
    if isinstance(overlap_hours, bool) or not isinstance(overlap_hours, int) \
            or not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise Invalid(f"The overlap is a whole number of hours from 0 to {MAX_OVERLAP_HOURS}.",
                      details={"overlap_hours": f"0–{MAX_OVERLAP_HOURS}"})
    endpoint = _active_endpoint(actor, endpoint_id, "rotate its secret")
    secret = "whsec_" + secrets.token_urlsafe(24)
    until = utcnow() + timedelta(hours=overlap_hours)
    endpoint.previous_secret_sealed = endpoint.secret_sealed if overlap_hours else None
    endpoint.previous_secret_until = until if overlap_hours else None
    endpoint.secret_sealed = seal(secret)
    audit.record(actor, "webhook.secret_rotated", "webhook", endpoint.id,
                 {"url": endpoint.url_hint, "overlap_hours": overlap_hours})
    db.session.commit()
    return endpoint, secret


def send_test(actor: Actor, endpoint_id: int) -> int:
    """Queue a `webhook.test` event to this endpoint alone (whatever its filter); the effect's id."""
    endpoint = _active_endpoint(actor, endpoint_id, "be sent a test event")
    effect = outbox.add(actor.workspace_id, "webhook.deliver", {
        "endpoint_id": endpoint.id, "event": TEST_EVENT,
        "data": {"message": "A test event from Promotion Desk.", "sent_by": actor.label}})
    db.session.flush()
    audit.record(actor, "webhook.test_sent", "webhook", endpoint.id, {"url": endpoint.url_hint})
    db.session.commit()
    return effect.id


class DeliveryRow:
    """A delivery log line: the attempt, and (on the newest attempt of a retried effect) when the next comes."""

    def __init__(self, delivery: WebhookDelivery, next_retry_at: Any) -> None:
        self.delivery, self.next_retry_at = delivery, next_retry_at

    def __getattr__(self, name: str) -> Any:
        return getattr(self.delivery, name)

    def as_json(self) -> dict[str, Any]:
        d = self.delivery
        return {"id": d.id, "event": d.event, "delivery": f"evt_{d.effect_id}", "attempt": d.attempt,
                "status_code": d.status_code, "duration_ms": d.duration_ms, "outcome": d.outcome, "error": d.error,
                "created_at": d.created_at.isoformat(),
                "next_retry_at": self.next_retry_at.isoformat() if self.next_retry_at else None}


def deliveries(actor: Actor, endpoint_id: int, limit: int = 50) -> list[DeliveryRow]:
    """The endpoint's delivery log, newest first; a retried delivery's newest attempt says when the next is."""
    from webapp.outbox.models import OutboxEffect

    endpoint = get_endpoint(actor, endpoint_id)
    rows = db.session.execute(
        select(WebhookDelivery, OutboxEffect.status, OutboxEffect.next_attempt_at, OutboxEffect.attempts)
        .join(OutboxEffect, OutboxEffect.id == WebhookDelivery.effect_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    ).all()
    return [DeliveryRow(d, at if status is EffectStatus.pending and d.attempt == attempts else None)
            for d, status, at, attempts in rows]


def disable_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    endpoint = get_endpoint(actor, endpoint_id)
    if endpoint.disabled_at is None:
        endpoint.disabled_at = utcnow()
        audit.record(actor, "webhook.disabled", "webhook", endpoint.id, {"url": endpoint.url_hint})
        db.session.commit()
    return endpoint


def emit(workspace_id: int, event: str, data: dict[str, Any]) -> None:
    """Add one delivery effect per active endpoint whose filter takes `event` to the current transaction."""
    endpoints = db.session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events).where(
        WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.disabled_at.is_(None))).all()
    for endpoint_id, events in endpoints:
        if not wants(events or [], event):
            continue
        outbox.add(workspace_id, "webhook.deliver", {"endpoint_id": endpoint_id, "event": event, "data": data})


@outbox.handler("webhook.deliver", outside=True)
def deliver(effect: OutboxEffect) -> dict[str, Any]:
    """POST the event once. A post that provably never arrived (no connection, a 429 or other refusal) raises
    and the outbox retries it; one that may have arrived (no answer after the body went out, a 5xx) raises
    `OutcomeUnknown` and is never repeated. Each attempt is a line in the endpoint's delivery log, committed
    before the outcome is raised (the outbox rolls back what a failing handler wrote). Signed at send time:
    a retry carries a fresh `t`."""
    endpoint = db.session.get(WebhookEndpoint, effect.payload["endpoint_id"])
    if endpoint is None or endpoint.disabled_at is not None:
        return {"skipped": "endpoint removed or disabled"}
    body = json.dumps({"id": f"evt_{effect.id}", "event": effect.payload["event"],
                       "created_at": effect.created_at.isoformat(), "data": effect.payload["data"]},
                      separators=(",", ":")).encode("utf-8")
    timestamp = int(time.time())
    started = time.perf_counter()
    with transport.watch() as seen:
        try:
            response = requests.post(
                unseal(endpoint.url_sealed), data=body,
                timeout=current_app.config["SETTINGS"].WEBHOOK_TIMEOUT_SECONDS,
                headers={"Content-Type": "application/json", "User-Agent": "PromotionDesk-Webhook/1",
                         "X-PromotionDesk-Event": effect.payload["event"],
                         # Receivers de-duplicate on this id: a delivery may repeat after a crash.
                         "X-PromotionDesk-Delivery": f"evt_{effect.id}",
                         SIGNATURE_HEADER: signature(signing_secrets(endpoint), body, timestamp)},
            )
        except requests.RequestException:
            response = None
    # The exception text can contain the URL, and URLs can carry credentials: only the recording's summary.
    outcome = seen.outcome(response is not None and 200 <= response.status_code < 300)
    db.session.add(WebhookDelivery(
        workspace_id=endpoint.workspace_id, endpoint_id=endpoint.id, effect_id=effect.id,
        event=effect.payload["event"][:64], attempt=effect.attempts,
        status_code=response.status_code if response is not None else None,
        duration_ms=round((time.perf_counter() - started) * 1000),
        outcome={Outcome.sent: "sent", Outcome.ambiguous: "unknown"}.get(outcome, "refused"),
        error=None if outcome is Outcome.sent else seen.describe()[:500]))
    db.session.commit()
    outbox.raise_unless_sent(outcome, endpoint.url_hint, seen.describe())
    assert response is not None  # sent: there was an answer
    return {"status": response.status_code}
