"""Webhook deliveries an integration can trust, run by a real RQ worker against a local receiver: the signature
checked by exactly the README's snippet, rotation's overlap (two `v1=`), event filters, the test event, and the
delivery log (status code, duration, attempt, next retry)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from webapp.extensions import utcnow
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.webhooks import services as webhooks
from webapp.webhooks.models import WebhookDelivery, WebhookEndpoint

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verify() -> Any:
    """The `verify` function of the README's Webhooks chapter, run as it is printed there."""
    chapter = README.read_text().split("\n## Webhooks\n", 1)[1].split("\n## ", 1)[0]
    [snippet] = [block for block in re.findall(r"```python\n(.*?)```", chapter, re.DOTALL) if "def verify" in block]
    assert len(snippet.strip().splitlines()) <= 12  # a snippet, not a library
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 — our own README, the point of the test
    return namespace["verify"]


class Receiver:
    """A local endpoint that keeps each POST's headers and raw body and answers with the next of `statuses`
    (200 once they run out)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def admin(factories, worker):
    actor = factories.user("admin")
    worker()  # whatever the fixtures queued
    return actor


def _emit(db, actor, event: str = "process.promoted") -> None:
    webhooks.emit(actor.workspace_id, event, {"process": "greeter"})
    db.session.commit()


def test_a_receiver_written_from_the_readme_snippet_verifies_real_deliveries(app, db, admin, worker, receiver):
    verify = readme_verify()
    _, secret = webhooks.create_endpoint(admin, receiver.url)
    _emit(db, admin)
    worker()
    [(headers, body)] = receiver.received
    header = headers["X-PromotionDesk-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(secret, header, body)
    assert not verify(secret, header, body.replace(b"greeter", b"greeteR"))  # a changed body
    assert not verify("whsec_another", header, body)  # another secret
    t = int(header.split(",")[0][2:])
    forged_old = header.replace(f"t={t}", f"t={t - 301}")  # the timestamp is signed: moving it breaks the v1
    assert not verify(secret, forged_old, body)


def test_the_readme_snippet_refuses_a_genuine_signature_older_than_the_tolerance(app, db, admin):
    verify = readme_verify()
    import time

    body = b'{"event":"process.promoted"}'
    fresh = webhooks.signature(["whsec_s"], body, int(time.time()))
    stale = webhooks.signature(["whsec_s"], body, int(time.time()) - webhooks.SIGNATURE_TOLERANCE_SECONDS - 5)
    assert verify("whsec_s", fresh, body) and not verify("whsec_s", stale, body)
    assert not verify("whsec_s", "v1=" + fresh.split("v1=")[1], body)  # no t at all
    assert not verify("whsec_s", "garbage", body)


def test_during_a_rotations_overlap_both_secrets_sign_and_after_it_only_the_new_one(app, db, admin, worker, receiver):
    verify = readme_verify()
    endpoint, old = webhooks.create_endpoint(admin, receiver.url)
    _, new = webhooks.rotate_secret(admin, endpoint.id, overlap_hours=2)
    assert new != old
    _emit(db, admin)
    worker()
    headers, body = receiver.received[-1]
    header = headers["X-PromotionDesk-Signature"]
    assert header.count("v1=") == 2
    assert verify(old, header, body) and verify(new, header, body)

    db.session.execute(update(WebhookEndpoint).values(previous_secret_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()  # the overlap is over
    _emit(db, admin)
    worker()
    headers, body = receiver.received[-1]
    header = headers["X-PromotionDesk-Signature"]
    assert header.count("v1=") == 1 and verify(new, header, body) and not verify(old, header, body)


def test_rotating_with_no_overlap_retires_the_old_secret_at_once_and_a_second_rotation_keeps_only_two(
        app, db, admin, worker, receiver):
    verify = readme_verify()
    endpoint, first = webhooks.create_endpoint(admin, receiver.url)
    _, second = webhooks.rotate_secret(admin, endpoint.id, overlap_hours=24)
    _, third = webhooks.rotate_secret(admin, endpoint.id, overlap_hours=24)
    _emit(db, admin)
    worker()
    headers, body = receiver.received[-1]
    header = headers["X-PromotionDesk-Signature"]
    assert header.count("v1=") == 2 and verify(third, header, body) and verify(second, header, body)
    assert not verify(first, header, body)
    _, fourth = webhooks.rotate_secret(admin, endpoint.id, overlap_hours=0)
    _emit(db, admin)
    worker()
    headers, body = receiver.received[-1]
    assert headers["X-PromotionDesk-Signature"].count("v1=") == 1
    assert verify(fourth, headers["X-PromotionDesk-Signature"], body)
    assert not verify(third, headers["X-PromotionDesk-Signature"], body)


@pytest.mark.parametrize("hours", [-1, 169, True, "24"])
def test_a_rotation_with_an_overlap_out_of_range_is_422_and_keeps_the_secret(app, db, admin, hours):
    from webapp.errors import Invalid

    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/in")
    sealed = endpoint.secret_sealed
    with pytest.raises(Invalid):
        webhooks.rotate_secret(admin, endpoint.id, overlap_hours=hours)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).secret_sealed == sealed


def test_an_endpoint_is_sent_only_the_events_its_filter_names(app, db, admin, worker, receiver):
    other = Receiver()
    try:
        webhooks.create_endpoint(admin, receiver.url, events=["world.*", "process.rolled_back"])
        webhooks.create_endpoint(admin, other.url)  # no filter: everything
        for event in ("process.promoted", "world.promoted", "process.rolled_back", "world.imported"):
            _emit(db, admin, event)
        worker()
        assert sorted(receiver.events()) == ["process.rolled_back", "world.imported", "world.promoted"]
        assert sorted(other.events()) == ["process.promoted", "process.rolled_back", "world.imported",
                                          "world.promoted"]
    finally:
        other.close()


@pytest.mark.parametrize("events", [["process.promotd"], ["nothing.*"], ["*"], ["process"]])
def test_an_unknown_event_in_a_filter_is_422_and_writes_nothing(app, db, admin, events):
    from webapp.errors import Invalid

    with pytest.raises(Invalid, match="Unknown event"):
        webhooks.create_endpoint(admin, "https://hooks.example/in", events=events)
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_send_test_event_posts_to_that_endpoint_alone_whatever_its_filter(app, db, admin, worker, receiver):
    verify = readme_verify()
    endpoint, secret = webhooks.create_endpoint(admin, receiver.url, events=["world.promoted"])
    other = Receiver()
    try:
        webhooks.create_endpoint(admin, other.url)
        webhooks.send_test(admin, endpoint.id)
        worker()
        [(headers, body)] = receiver.received
        assert json.loads(body)["event"] == "webhook.test" and headers["X-PromotionDesk-Event"] == "webhook.test"
        assert verify(secret, headers["X-PromotionDesk-Signature"], body)
        assert other.received == []
    finally:
        other.close()


def test_a_disabled_endpoint_cannot_be_sent_a_test_event(app, db, admin):
    from webapp.errors import Conflict

    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/in")
    webhooks.disable_endpoint(admin, endpoint.id)
    before = db.session.scalars(select(OutboxEffect.id)).all()
    with pytest.raises(Conflict):
        webhooks.send_test(admin, endpoint.id)
    assert db.session.scalars(select(OutboxEffect.id)).all() == before


def test_the_delivery_log_records_a_refused_attempt_with_its_next_retry_then_the_delivery(
        app, db, admin, worker, receiver):
    endpoint, _ = webhooks.create_endpoint(admin, receiver.url)
    receiver.statuses = [429]
    _emit(db, admin)
    worker()
    db.session.expire_all()
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.kind == "webhook.deliver")).one()
    assert effect.status is EffectStatus.pending  # refused: retried
    [refused] = webhooks.deliveries(admin, endpoint.id)
    assert (refused.attempt, refused.status_code, refused.outcome) == (1, 429, "refused")
    assert refused.next_retry_at == effect.next_attempt_at and refused.duration_ms >= 0
    assert refused.error == "HTTP 429"

    with app.app_context():
        assert outbox.run_effect(effect.id) == "done"
    db.session.expire_all()
    sent, first = webhooks.deliveries(admin, endpoint.id)
    assert (sent.attempt, sent.status_code, sent.outcome, sent.next_retry_at) == (2, 200, "sent", None)
    assert (first.attempt, first.next_retry_at) == (1, None)  # no retry waits any more
    assert len(receiver.received) == 2
    assert receiver.received[0][0]["X-PromotionDesk-Delivery"] == receiver.received[1][0]["X-PromotionDesk-Delivery"]


def test_a_5xx_is_logged_unknown_once_and_never_retried(app, db, admin, worker, receiver):
    endpoint, _ = webhooks.create_endpoint(admin, receiver.url)
    receiver.statuses = [503]
    _emit(db, admin)
    worker()
    worker(with_scheduler=True)
    db.session.expire_all()
    assert db.session.scalars(select(OutboxEffect.status).where(OutboxEffect.kind == "webhook.deliver")).one() \
        is EffectStatus.unknown
    [line] = webhooks.deliveries(admin, endpoint.id)
    assert (line.status_code, line.outcome, line.next_retry_at) == (503, "unknown", None)
    assert len(receiver.received) == 1


def test_the_endpoint_page_shows_the_delivery_log_and_the_test_button_queues_one(
        app, db, admin, auth, worker, receiver):
    endpoint, _ = webhooks.create_endpoint(admin, receiver.url)
    auth.login(admin.label)
    response = auth.post(f"/settings/webhooks/{endpoint.id}/test", htmx=True)
    assert response.status_code == 200 and "Test event queued" in response.headers["HX-Trigger"]
    worker()
    page = auth.client.get(f"/settings/webhooks/{endpoint.id}").get_data(as_text=True)
    [delivery] = db.session.scalars(select(WebhookDelivery)).all()
    row = page.split(f'id="delivery-{delivery.id}"', 1)[1].split("</tr>", 1)[0]
    assert "webhook.test" in row and ">200</td>" in row and " ms</td>" in row and "sent" in row
    assert f"evt_{delivery.effect_id}" in row


def test_rotating_on_the_page_shows_the_new_secret_once(app, db, admin, auth):
    endpoint, old = webhooks.create_endpoint(admin, "https://hooks.example/in")
    auth.login(admin.label)
    response = auth.post(f"/settings/webhooks/{endpoint.id}/rotate", data={"overlap_hours": "6"}, htmx=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new = re.search(r'value="(whsec_[^"]+)"', response.get_data(as_text=True)).group(1)
    assert new != old
    again = auth.client.get(f"/settings/webhooks/{endpoint.id}").get_data(as_text=True)
    assert new not in again and old not in again and "Previous secret signs too until" in again
    assert auth.post(f"/settings/webhooks/{endpoint.id}/rotate", data={"overlap_hours": "soon"},
                     htmx=True).status_code == 422


def test_the_event_filter_is_saved_from_the_page(app, db, admin, auth):
    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/in")
    auth.login(admin.label)
    response = auth.post(f"/settings/webhooks/{endpoint.id}/events", htmx=True,
                         data={"events": ["process.promoted"], "events_other": "world.*"})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).events == ["process.promoted", "world.*"]
    bad = auth.post(f"/settings/webhooks/{endpoint.id}/events", htmx=True, data={"events_other": "nope.nope"})
    assert bad.status_code == 422
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).events == ["process.promoted", "world.*"]
