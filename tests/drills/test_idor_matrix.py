"""Drill: the IDOR matrix. Two workspaces; an admin of workspace B (the highest role there) asks every id-taking
route of the URL map, HTML and /api/v1, for workspace A's objects, with B's session or B's tokens. Every answer is
a 404, and nothing of A (or anything else) is written."""

from __future__ import annotations

import pytest

from tests.drills.database import changes, rows
from tests.drills.report import drill
from tests.urlmap import MISSING, api_headers, one_of_everything, open_planning_room, urls
from webapp.gamenight import night_settings

# Not an object of a workspace: a local date, a signed e-mail link (it names its own contact), a calendar feed's
# secret (whoever holds it reads that feed, by design: tests/gamenight/test_calendar_feed.py), vendored files;
# the RQ dashboard is the installation operators' and spans workspaces by design.
NOT_OBJECTS = ("<day>", "<token>", "<feed_token>", "<path:filename>")
SKIPPED_ENDPOINTS = ("static", "rq_dashboard.")
# Public by design (README, Availability): anyone sees a workspace's counts; only its members see names.
PUBLIC = ("gamenight.availability", "gamenight.calendar")


def _a_objects(world: dict) -> dict:
    """Only the ids and slugs A really has (not the ones nobody has). Of the approval-policy subjects only A's
    process names an object of A: `workspace` and `worlds` name whichever workspace asks."""
    ids = {name: [v for v in values if v != MISSING] for name, values in world["ids"].items()}
    ids["subject"] = ids["subject"][:1]
    return world | {"slugs": world["slugs"][:2], "ids": ids}


@pytest.fixture
def intruder(db, factories):
    """An admin of workspace B with B's tokens and B's planning room open today (so a vote looks its id up)."""
    admin = factories.user("admin", "Bravo", email="intruder@example.com")
    open_planning_room(db, admin, "Bea")
    return {"admin": admin, "key": factories.environment_key(admin), "token": factories.personal_token(admin),
            "bot": night_settings.rotate_bot_token(admin)}


def test_a_member_of_another_workspace_gets_404_for_every_id_of_this_one_and_writes_nothing(
        app, db, factories, auth, client, intruder):
    target = _a_objects(one_of_everything(db, factories, "Acme"))
    auth.login(intruder["admin"].label)
    rules = [r for r in app.url_map.iter_rules() if "<" in r.rule and not r.endpoint.startswith(SKIPPED_ENDPOINTS)
             and not any(arg in r.rule for arg in NOT_OBJECTS)]
    assert len(rules) > 30
    before = rows(db)
    answers: dict[str, int] = {}
    rule_of: dict[str, str] = {}
    names_shown: list[str] = []
    for rule in sorted(rules, key=lambda r: r.rule):
        for url in urls(rule.rule, target):
            bearer = api_headers(url, intruder)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if url.startswith("/api/"):
                    response = client.get(url, headers=bearer) if method == "GET" else \
                        client.post(url, headers=bearer, json={})
                elif rule.endpoint in PUBLIC and method == "GET":
                    page = auth.get(url).get_data(as_text=True)
                    names_shown += [f"{url}: {name}" for name in (target["admin"].label, "Ada") if name in page]
                    continue
                else:
                    response = auth.get(url) if method == "GET" else auth.post(url, data={})
                answers[f"{method} {url}"] = response.status_code
                rule_of[f"{method} {url}"] = rule.rule
    written = changes(before, rows(db))
    # The control: the same reads by A's own admin and tokens find A's objects (a page, or a 400/409 about the
    # object), so the ids are real ones.
    auth.logout()
    auth.login(target["admin"].label)
    owner = {call: (client.get(call[4:], headers=api_headers(call[4:], target)) if call.startswith("GET /api/")
                    else auth.get(call[4:])).status_code for call in answers if call.startswith("GET ")}

    assert len(answers) > 40
    not_found = {call: status for call, status in answers.items() if status != 404}
    assert not_found == {}, f"answered other than 404 to another workspace's ids: {not_found}"
    assert written == {}, f"written by requests for another workspace's ids: {written}"
    unreached = {rule_of[call] for call in owner} - {rule_of[call] for call, status in owner.items() if status != 404}
    assert unreached == set(), f"the owner found none of the objects of {sorted(unreached)}"
    assert names_shown == [], "a public page showed another workspace's members"
    drill("idor matrix", lost=sum(status < 400 for status in answers.values()) + sum(written.values())
          + len(names_shown), duplicated=0)
