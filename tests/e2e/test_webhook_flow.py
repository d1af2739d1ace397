"""An admin sets up a webhook in a real browser: adds it with an event filter, copies the secret shown once, sends
a test event, sees the delivery in the endpoint's log, and rotates the secret; the receiver checks every post with
the README's snippet."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from tests.webhooks.test_deliveries import Receiver, readme_verify

pytestmark = pytest.mark.e2e
EMAIL = "admin@example.com"


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


def test_an_admin_adds_a_webhook_sends_a_test_event_sees_it_delivered_and_rotates_the_secret(
        page: Page, factories: Any, worker: Any, receiver: Any) -> None:
    verify = readme_verify()
    factories.user("admin", "Acme", email=EMAIL)
    worker()
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/settings/webhooks")
    page.get_by_text("New webhook", exact=True).click()  # the <summary> opens the form
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("CI")
    page.get_by_label("world.promoted").check()
    page.get_by_role("button", name="Add webhook").click()
    shown = page.get_by_label("Signing secret for")
    expect(shown).to_have_value(re.compile(r"^whsec_"))
    secret = shown.input_value()

    page.get_by_role("link", name="http://127.0.0.1").click()
    expect(page.get_by_label("world.promoted")).to_be_checked()
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test event queued")).to_be_visible()
    worker()
    [(headers, body)] = receiver.received
    assert json.loads(body)["event"] == "webhook.test" and verify(secret, headers["X-PromotionDesk-Signature"], body)
    page.reload()
    row = page.locator("tr[id^=delivery-]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("200")
    expect(row).to_contain_text("sent")

    page.once("dialog", lambda dialog: dialog.accept())  # htmx asks before it rotates
    page.get_by_role("button", name="Rotate secret").click()
    new = page.get_by_label("New signing secret for")
    expect(new).to_have_value(re.compile(r"^whsec_"))
    new_secret = new.input_value()
    assert new_secret != secret
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test event queued")).to_be_visible()
    worker()
    headers, body = receiver.received[-1]
    assert verify(new_secret, headers["X-PromotionDesk-Signature"], body)
    assert verify(secret, headers["X-PromotionDesk-Signature"], body)  # the overlap: the old one still verifies
    page.reload()
    assert new_secret not in page.content()
    assert_no_page_problems(page)
