"""The desk and the header in a real browser: a player lands on the desk, on a phone the nav folds behind its Menu
button and still reaches every flow; a confirm button and sign-in show they are working until the answer comes and
can't be sent twice; the dialog keeps the focus inside, closes on Escape and gives the focus back to its opener."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import assert_no_page_problems, browser_unavailable, follow_nav, open_page, screenshot, sign_in

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.e2e.test_promote_flow import Seeded, history_row, open_promote_dialog, seeded  # noqa: F401 (fixture)
from tests.factories import PASSWORD

SLOW_S = 1.5  # how long the patched server takes to answer: long enough to see the busy state, then it ends




def page_fits(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_a_player_lands_on_the_desk_and_on_a_phone_reaches_campaigns_through_the_menu(
        browser: Any, live_server: str, factories: Any) -> None:
    admin = factories.user("admin", "Acme")
    factories.player(admin.workspace_id, "ada@example.com", "available", name="Ada")
    with open_page(browser, live_server) as page:
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, "ada@example.com")
        expect(page.locator(".desk-days")).to_contain_text("available")
        menu = page.locator("#nav-menu")
        expect(menu).to_be_hidden()
        assert page_fits(page)
        toggle = page.get_by_role("button", name="Menu")
        toggle.click()
        expect(menu).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        assert page_fits(page)
        follow_nav(page, "Game nights", "Campaigns")
        expect(page).to_have_url(f"{live_server}/campaigns")
        assert_no_page_problems(page)


def test_the_manage_menu_opens_closes_on_escape_and_a_viewer_sees_no_admin_pages(page: Page, factories: Any) -> None:
    factories.user("viewer", "Acme", email="vic@example.com")
    sign_in(page, "vic@example.com")
    manage = page.locator("header summary", has_text="Manage")
    manage.click()
    expect(page.get_by_role("link", name="Audit")).to_be_visible()
    expect(page.get_by_role("link", name="Keys")).to_have_count(0)
    expect(page.get_by_role("link", name="Webhooks")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="Audit")).to_be_hidden()
    expect(manage).to_be_focused()


def slow(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> list[float]:
    """Make `target.name` answer SLOW_S late (the live server runs in this process); the list gets a time per call."""
    real = getattr(target, name)
    calls: list[float] = []
    lock = threading.Lock()

    def late(*args: Any, **kwargs: Any) -> Any:
        with lock:
            calls.append(time.monotonic())
        time.sleep(SLOW_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, late)
    return calls


def test_a_slow_promote_shows_a_busy_disabled_button_and_is_sent_once(
        page: Page, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from webapp.processes import promotion

    calls = slow(monkeypatch, promotion, "promote")
    sign_in(page, seeded.email)
    page.goto(f"/processes/{seeded.slug}")
    dialog = open_promote_dialog(page, 3)
    confirm = dialog.get_by_role("button", name="Promote", exact=True)
    confirm.click()
    expect(confirm).to_be_disabled()
    expect(confirm).to_have_attribute("aria-busy", "true")
    # Sent again while the first is on its way, past the disabled button (a script, a stuck key): not sent twice.
    page.evaluate("() => htmx.trigger(document.querySelector('#dialog-body form'), 'submit')")
    expect(dialog).to_be_hidden(timeout=SLOW_S * 1000 + 5000)
    expect(history_row(page, 4)).to_contain_text("production")
    assert len(calls) == 1, calls
    assert_no_page_problems(page)


def test_sign_in_shows_it_is_working_until_the_desk_answers(page: Page, factories: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp.accounts import signin

    factories.user("viewer", "Acme", email="vic@example.com")
    calls = slow(monkeypatch, signin, "authenticate")
    page.goto("/login")
    page.get_by_label("E-mail").fill("vic@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    button = page.get_by_role("button", name="Sign in", exact=True)
    # Playwright's own click and checks wait for the next page; read this one's button from inside it meanwhile.
    disabled, busy = button.evaluate(
        "b => { b.click(); return new Promise(r => setTimeout(() => r([b.disabled, b.getAttribute('aria-busy')]), 300)); }")
    assert disabled is True and busy == "true"
    expect(page.get_by_role("heading", name="Desk", level=1)).to_be_visible(timeout=SLOW_S * 1000 + 5000)
    assert len(calls) == 1


def test_the_dialog_keeps_focus_inside_closes_on_escape_and_returns_focus_to_its_opener(
        page: Page, seeded: Seeded) -> None:  # noqa: F811
    sign_in(page, seeded.email)
    page.goto(f"/processes/{seeded.slug}")
    opener = history_row(page, 3).get_by_role("button", name="Promote to Production")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Promote v3 to production")).to_be_visible()
    inside = 0
    for _ in range(12):  # round the dialog's controls and back: the page behind is inert
        page.keyboard.press("Tab")
        where = page.evaluate("() => document.getElementById('dialog').contains(document.activeElement) ? 'dialog'"
                              " : document.activeElement === document.body ? 'body' : document.activeElement.outerHTML")
        assert where in ("dialog", "body"), where  # body: the step out to the browser's own controls, and back
        inside += where == "dialog"
    assert inside >= 10, inside
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


def test_a_busy_workspaces_desk_fits_1280_and_390_px_and_shows_each_part(
        browser: Any, live_server: str, factories: Any, tmp_path: Path) -> None:
    """What an admin of a working team sees: a review waiting, a scheduled promotion, a failed job, tonight's
    night and the latest promotions (the README's pictures of the desk and of a phone come from here)."""
    from tests.governance.test_requests import NEEDS_ONE, ask, sandbox_version
    from tests.governance.test_schedule_pages import when
    from webapp.extensions import db
    from webapp.governance import schedules
    from webapp.governance import services as governance
    from webapp.outbox.models import EffectStatus, OutboxEffect
    from webapp.processes import promotion
    from webapp.worlds import promotion as world_promotion

    admin = factories.user("admin", "Acme", email="dana.admin@example.com")
    alice = factories.user("promoter", "Acme", email="alice@example.com")
    for name, status in (("Ada", "available"), ("Bor", "looking"), ("Cene", "maybe")):
        factories.player(admin.workspace_id, f"{name.lower()}@example.com", status, name=name)
    greeter = factories.process(admin, "Greeter")
    factories.production(admin, greeter, {"greeting": "Hello"})
    limbo = factories.live_room(admin)
    world_promotion.promote(admin, factories.build_project(admin).id, limbo.id, "north")
    scheduled = factories.version(admin, greeter, {"greeting": "Hello again"})
    schedules.schedule(admin, schedules.ScheduleCommand.model_validate(
        {"flow": "process", "source": scheduled.id, **when(90),
         "preview_token": promotion.promotion_preview(admin, scheduled.id).token}))
    version = sandbox_version(factories, alice)
    governance.set_policy(admin, "workspace", NEEDS_ONE)
    ask(alice, version)
    db.session.add(OutboxEffect(workspace_id=admin.workspace_id, kind="webhook.deliver", payload={},
                                status=EffectStatus.failed))
    db.session.commit()
    for width, name in ((1280, "desk.png"), (390, "desk-phone.png")):
        with open_page(browser, live_server) as page:
            page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
            sign_in(page, "dana.admin@example.com")
            waiting = page.get_by_role("article", name="Waiting for you")
            expect(waiting).to_contain_text("yours to review")
            expect(waiting).to_contain_text("Greeter")
            expect(waiting).to_contain_text("1 failed")
            expect(page.get_by_role("article", name="Latest promotions")).to_contain_text("into the live world")
            assert page_fits(page), width
            if width < 400:
                page.get_by_role("button", name="Menu").click()
                page.locator("header summary", has_text="Manage").click()
                assert page_fits(page)
            screenshot(page, tmp_path, name, full_page=width < 400)
            assert_no_page_problems(page)


def test_a_link_that_looks_like_a_button_answers_space(page: Page, factories: Any) -> None:
    admin = factories.user("admin", "Acme")
    factories.player(admin.workspace_id, "ada@example.com", "available", name="Ada")
    sign_in(page, "ada@example.com")
    link = page.get_by_role("button", name="Set my availability")
    link.focus()
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"/w/[^/]+/availability$"))
