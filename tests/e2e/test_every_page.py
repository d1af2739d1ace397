"""Every HTML page of the URL map, as each kind of member sees it, in a real browser: nothing scrolls sideways at
1280 px or at 390 px, and axe-core (vendored by axe-playwright-python) finds no serious or critical violation.

The pages are the app's own GET rules (not the JSON API, static files or the RQ dashboard), each filled with the
real ids of `tests.urlmap.one_of_everything` (plus a long, nested sandbox change, and the query strings the compare
page and the world promote dialog need); per role, one URL per rule: the first of its fillings that the role may
open as a page (200, a whole HTML document). A rule no filling of which does is a page that role may not open.
axe runs at 1280 px only: its rules (names, contrast, landmarks, headings) do not depend on the width here, and the
narrow layout is the overflow check's.

The header is measured with the rest: on a phone it is folded behind its Menu button (the open menu is measured
by tests/e2e/test_desk_flow.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import TIMEOUT_MS, browser_unavailable
from tests.urlmap import one_of_everything, urls

_why = browser_unavailable()
if _why:
    pytest.skip(_why, allow_module_level=True)

from axe_playwright_python.base import AXE_FILE_PATH

pytestmark = pytest.mark.e2e

NARROW_WIDTH = 390
HEIGHT = 900
AXE_WIDTH = 1280
SERIOUS = ("serious", "critical")
SKIPPED_ENDPOINTS = ("static", "rq_dashboard.")
ROLES = ("admin", "editor", "promoter", "player", "viewer", "signed-out")

# Measures, and names the outermost elements that stick out past the window and are not inside a box that scrolls
# or clips them (the ones to fix).
MEASURE = """() => {
  const width = window.innerWidth, scrollWidth = document.documentElement.scrollWidth;
  const culprits = [];
  if (scrollWidth > width) {
    const clipped = (el) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        if (getComputedStyle(p).overflowX !== 'visible') return true;
      }
      return false;
    };
    for (const el of document.querySelectorAll('body *')) {
      const right = el.getBoundingClientRect().right;
      const parent = el.parentElement;
      if (right > width + 0.5 && parent && parent.getBoundingClientRect().right <= width + 0.5 && !clipped(el)) {
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (el.classList.length ? '.' + [...el.classList].join('.') : '');
        culprits.push(name + ' (right edge ' + Math.round(right) + ' px)');
        if (culprits.length === 5) break;
      }
    }
  }
  return {width, scrollWidth, culprits};
}"""
# axe-core's default rules on the whole document, started and left running (`AXE_RESULT` collects it), so that the
# next page loads while this one is checked: the browser's renderers work side by side.
AXE_START = """() => { window.__axeResult = axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target, html: n.html}))}))); }"""
AXE_RESULT = "() => window.__axeResult"
# htmx's own requests of a page (hx-trigger="load") are under way once the load event has fired; wait them out.
HTMX_SETTLED = "() => !document.querySelector('.htmx-request')"


@dataclass
class Visit:
    rule: str
    url: str


def make_member(factories: Any, role: str) -> str | None:
    """The e-mail of a member of Acme (`one_of_everything`'s workspace) in `role`; None when signed out. A player is
    a viewer with a player profile and a confirmed chat identity, as the demo's players are."""
    if role == "signed-out":
        return None
    if role != "player":
        return factories.user(role, "Acme").label
    from webapp.extensions import db
    from webapp.gamenight import players
    from webapp.notify import contacts
    from webapp.notify.models import Channel

    player = factories.user("viewer", "Acme", email="pia.player@example.com")
    players.save_profile(player, players.PlayerCommand(display_name="Pia", aliases=["pia_7"]))
    contacts.attach_identity(player.workspace_id, player.user_id, Channel.discord, "700007")
    db.session.commit()
    return player.label


# A long, nested change to the production prompt (a long text, a URL, a key, nested JSON) as a sandbox version of
# its own: the compare page and the promote dialog show it, the widest diff a reviewer meets.
LONG_CHANGE = {"prompt": "\n".join(f"Step {n}: read the customer's message and answer it kindly." for n in range(12)),
               "model": "gpt-4o-mini-2024-07-18-deployment-for-the-support-team-in-the-eu-west-region",
               "endpoint": "https://inference.example.com/v1/deployments/" + "a1b2c3" * 10 + "/chat/completions",
               "api_key_hint": "sk-live-" + "x9" * 32,
               "tools": [{"name": "lookup_order", "parameters": {"type": "object", "properties": {
                   "order_id": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{8}$"}}}}]}


def add_long_change(factories: Any, world: dict[str, Any]) -> dict[str, str]:
    """What `one_of_everything` lacks for some pages to be pages: LONG_CHANGE as the production process's active
    sandbox version (its id joins the real version ids), the signed links of a reminder and of a quorum warning
    (they join the real tokens); returns the query strings of the pages that need one (not a 400): rule → query."""
    from webapp.extensions import db
    from webapp.gamenight import campaign_links
    from webapp.gamenight.models import CampaignRecipient, Status
    from webapp.processes import documents

    admin, ids = world["admin"], world["ids"]
    version = factories.version(admin, documents.get_process(admin, world["slugs"][0]), LONG_CHANGE)
    production = ids["version_id"][1]
    ids["version_id"].insert(-1, version.id)
    campaign = ids["campaign_id"][0]
    # The admin (linked and available, but not opted in) as one of the reminder's recipients, so their link opens.
    db.session.merge(CampaignRecipient(campaign_id=campaign, user_id=admin.user_id, status=Status.available))
    db.session.commit()
    ids["token"][:0] = [campaign_links.answer_token(campaign, admin.user_id),
                        campaign_links.call_off_token(campaign, admin.user_id)]
    limbo = ids["room_id"][1]  # a live room the built area can be attached to
    return {"/processes/<slug>/compare": f"old={production}&new={version.id}",
            "/builds/<int:project_id>/promote": f"connection_room_id={limbo}&direction=west"}


def pages_for(app: Any, client: Any, world: dict[str, Any], queries: dict[str, str]) -> list[Visit]:
    """One URL per HTML GET rule: the first filling with real ids that this client may open as a page."""
    visits = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule.startswith("/api/") or rule.endpoint.startswith(SKIPPED_ENDPOINTS):
            continue
        query = f"?{queries[rule.rule]}" if rule.rule in queries else ""
        for url in (u + query for u in urls(rule.rule, world)):
            answer = client.get(url)
            if answer.status_code == 200 and answer.mimetype == "text/html" and is_document(answer.data):
                visits.append(Visit(rule.rule, url))
                break
    return visits


def is_document(body: bytes) -> bool:
    """A whole page, not a fragment that htmx swaps into one (e.g. the room search's options)."""
    return body.lstrip()[:15].lower() == b"<!doctype html>"


@contextmanager
def context_at(browser: Any, live_server: str, width: int, cookies: list[dict[str, Any]], outside: list[str], *,
               axe: bool = False) -> Iterator[Any]:
    """A browser context of its own at `width` px holding the member's cookies (and axe-core in every document when
    `axe`); every request it makes that is not to the live server is noted in `outside`."""
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": HEIGHT})
    context.set_default_timeout(TIMEOUT_MS)
    if cookies:
        context.add_cookies(cookies)
    if axe:
        context.add_init_script(path=str(AXE_FILE_PATH))
    context.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live_server, "data:")) else None)
    try:
        yield context
    finally:
        context.close()


def load(page: Any, visit: Visit, where: str) -> None:
    answer = page.goto(visit.url)
    assert answer is not None and answer.status == 200, f"{where}: {answer and answer.status}"
    page.wait_for_function(HTMX_SETTLED)


def sticking_out(page: Any, where: str) -> list[str]:
    seen = page.evaluate(MEASURE)
    if seen["scrollWidth"] <= seen["width"]:
        return []
    return [(f"{where}: {seen['scrollWidth']} px wide in a {seen['width']} px window; "
             f"sticking out: {', '.join(seen['culprits']) or 'nothing named'}")]


def session_cookies(app: Any, client: Any, live_server: str) -> list[dict[str, Any]]:
    """The test client's session cookie (signed in, or not) for the browser, at the live server's address."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return [{"name": cookie.key, "value": cookie.value, "url": live_server}] if cookie else []


def violation_lines(violations: list[dict[str, Any]], where: str) -> list[str]:
    """One line per serious or critical axe violation and node: its id, the page and the node."""
    return [f"{where}: {v['id']} ({v['impact']}) at {', '.join(map(str, node['target']))}: "
            f"{node['html'][:160]} — {v['help']}"
            for v in violations if v["impact"] in SERIOUS for node in v["nodes"]]


@pytest.mark.parametrize("role", ROLES)
def test_no_page_scrolls_sideways_or_has_a_serious_axe_violation(app, auth, client, db, factories, browser,
                                                                   live_server, monkeypatch, role):
    # Every page links the same CSS and scripts: the browser keeps them for the run instead of asking again on each
    # of some 500 page loads (Flask's default makes it revalidate each one), so the run's time goes to the pages.
    monkeypatch.setitem(app.config, "SEND_FILE_MAX_AGE_DEFAULT", 3600)
    world = one_of_everything(db, factories)
    queries = add_long_change(factories, world)
    email = make_member(factories, role)
    if email:
        auth.login(email)
    visits = pages_for(app, client, world, queries)
    opened = {v.rule for v in visits}
    assert ("/account" in opened) == bool(email), f"signed in as {role}: {email}; opened {sorted(opened)}"
    if role == "admin":  # the pages with the widest content: the diff of LONG_CHANGE and both promote dialogs
        assert {*queries, "/versions/<int:version_id>/promote", "/gamenight/answer/<token>",
                "/gamenight/call-off/<token>"} <= opened, sorted(opened)
    cookies = session_cookies(app, client, live_server)
    overflow, violations, outside = [], [], []
    with context_at(browser, live_server, AXE_WIDTH, cookies, outside, axe=True) as wide, \
            context_at(browser, live_server, NARROW_WIDTH, cookies, outside) as narrow:
        # Two wide pages take turns: axe checks one while the next URL loads in the other and at 390 px.
        checking: deque[tuple[Any, str]] = deque()
        wide_pages, narrow_page = [wide.new_page(), wide.new_page()], narrow.new_page()
        for number, visit in enumerate(visits):
            page = wide_pages[number % 2]
            if checking and checking[0][0] is page:
                done, where = checking.popleft()
                violations += violation_lines(done.evaluate(AXE_RESULT), where)
            where = f"{visit.url} (rule {visit.rule}) as {role} at {AXE_WIDTH} px"
            load(page, visit, where)
            overflow += sticking_out(page, where)
            page.evaluate(AXE_START)
            checking.append((page, where))
            where = f"{visit.url} (rule {visit.rule}) as {role} at {NARROW_WIDTH} px"
            load(narrow_page, visit, where)
            overflow += sticking_out(narrow_page, where)
        for done, where in checking:
            violations += violation_lines(done.evaluate(AXE_RESULT), where)
    assert outside == [], "requests left the live server (axe-core must be vendored):\n" + "\n".join(outside)
    problems = [f"{len(overflow)} page views scroll sideways:", *overflow,
                f"{len(violations)} serious or critical axe violations:", *violations]
    assert not (overflow or violations), "\n".join(problems)


# A toast as app.js shows one for an HX-Trigger "toast" event; then, scrolled to the end of the page, where it is,
# what a click at its middle reaches, and where the page's last control ends.
TOAST_OVER_THE_PAGE = """async () => {
  document.dispatchEvent(new CustomEvent('toast', {detail: {level: 'success', message: 'Promoted v7 to production'}}));
  window.scrollTo(0, document.documentElement.scrollHeight);
  await new Promise(requestAnimationFrame);
  const toast = document.querySelector('#toasts .toast').getBoundingClientRect();
  const hit = document.elementFromPoint(toast.left + toast.width / 2, toast.top + toast.height / 2);
  const controls = [...document.querySelectorAll('main :is(a, button, input, select, textarea)')];
  return {toastTop: toast.top, clickReachesToast: !!(hit && hit.closest('#toasts')),
          lastControlBottom: Math.max(...controls.map(c => c.getBoundingClientRect().bottom))};
}"""


@pytest.mark.parametrize("width", [AXE_WIDTH, NARROW_WIDTH])
def test_a_toast_never_covers_a_control(app, auth, client, db, factories, browser, live_server, width):
    world = one_of_everything(db, factories)
    auth.login(world["admin"].label)
    with context_at(browser, live_server, width, session_cookies(app, client, live_server), []) as context:
        page = context.new_page()
        load(page, Visit("/processes/<slug>", f"/processes/{world['slugs'][0]}"), f"the process page at {width} px")
        seen = page.evaluate(TOAST_OVER_THE_PAGE)
    assert not seen["clickReachesToast"], f"a click at the toast's middle is taken by the toast at {width} px"
    assert seen["lastControlBottom"] <= seen["toastTop"], f"the page's last control is under the toast at {width} px"
