"""The webhooks page: admins add endpoints (the signing secret shown once) and disable them."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from webapp.webhooks.models import WebhookEndpoint


def test_admin_creates_webhook_and_sees_the_signing_secret_once(auth, db, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.post("/settings/webhooks", data={"url": "https://user:pw@hooks.example/in", "description": "ops"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    secret = re.search(r'value="(whsec_[^"]+)"', html).group(1)
    assert "X-PromotionDesk-Signature: t=&lt;unix seconds&gt;,v1=" in html
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert endpoint.url_hint == "https://hooks.example/…" and secret not in endpoint.secret_sealed
    page = auth.client.get("/settings/webhooks").get_data(as_text=True)
    assert "https://hooks.example/…" in page and secret not in page and "user:pw" not in page


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_below_admin_neither_sees_nor_creates_webhooks(auth, db, factories, role):
    member = factories.user(role)
    auth.login(member.label)
    assert auth.client.get("/settings/webhooks").status_code == 403
    assert ">Webhooks</a>" not in auth.client.get("/settings/tokens").get_data(as_text=True)
    assert auth.post("/settings/webhooks", data={"url": "https://hooks.example/in"}).status_code == 403
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_webhook_with_a_bad_url_is_422_and_writes_nothing(auth, db, factories):
    admin = factories.user("admin")
    auth.login(admin.label)
    response = auth.post("/settings/webhooks", htmx=True, data={"url": "ftp://nope"})
    assert response.status_code == 422 and "http:// or https://" in response.get_data(as_text=True)
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_admin_disables_a_webhook(auth, db, factories):
    from webapp.webhooks import services as webhooks

    admin = factories.user("admin")
    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/in")
    auth.login(admin.label)
    response = auth.post(f"/settings/webhooks/{endpoint.id}/disable", htmx=True)
    assert response.status_code == 200 and "disabled" in json.loads(response.headers["HX-Trigger"])["toast"]["message"]
    db.session.refresh(endpoint)
    assert endpoint.disabled_at is not None
