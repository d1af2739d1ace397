"""The audit log in plain words: a sentence with links for every action webapp/ records, names looked up once
per page, readable leftovers instead of Python reprs, and times in the workspace's time zone."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from tests.audit.actions import Collector, Unresolved, recorded_actions
from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.audit.names import Names
from webapp.audit.sentences import SENTENCES, describe, time_words, value_words
from webapp.extensions import db as _db
from webapp.governance import services as governance
from webapp.governance.models import Decision
from webapp.governance.services import PolicyCommand, RequestCommand
from webapp.processes import cache
from webapp.processes import promotion as process_promotion
from webapp.worlds import promotion as world_promotion

LJUBLJANA = ZoneInfo("Europe/Ljubljana")
PYTHON_INTERNALS = re.compile(r"\{'|\['|\bNone\b|\bTrue\b|\bFalse\b|=\{|\+00:00")


def what_column(html: str) -> list[str]:
    """The sentences of the audit page's "What" cells (without the action code beneath), tags and all."""
    cells = re.findall(r'<td class="audit-what"[^>]*>(.*?)</td>', html, re.DOTALL)
    return [re.sub(r'<small class="audit-action">.*?</small>', "", c, flags=re.DOTALL) for c in cells]


def text_of(cell: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", cell).split())


# -- every action has a sentence -------------------------------------------------------------------------------


def test_every_action_recorded_anywhere_in_webapp_has_a_sentence():
    recorded = recorded_actions()
    assert len(recorded) > 80  # the collector found the calls (a broken one would find none and pass)
    missing = {action: [str(s) for s in sites] for action, sites in recorded.items() if action not in SENTENCES}
    assert not missing, f"give these audit actions a sentence in webapp/audit/sentences.py: {missing}"


def test_the_collector_expands_conditional_formatted_and_passed_on_action_names(tmp_path):
    source = '''
ACTIONS = {"a": "thing.made", "b": "thing.broken"}

def change(who, action):
    audit.record(who, action, "thing", 1)

def caller(who, on, key):
    change(who, "thing.switched_on" if on else "thing.switched_off")
    audit.record(who, f"{'key' if on else 'token'}.created", "thing", 1)
    audit.record(who, ACTIONS[key], "thing", 1)
'''
    collector = Collector()
    path = Path(__file__)
    tree = ast.parse(source)
    collector.modules = {path: tree}
    collector.parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "audit.record"]
    assert collector.expand(path, calls[0].args[1]) == {"thing.switched_on", "thing.switched_off"}
    assert collector.expand(path, calls[1].args[1]) == {"key.created", "token.created"}
    with pytest.raises(Unresolved, match="teach tests/audit/actions.py"):
        collector.expand(path, calls[2].args[1])  # ACTIONS is not a global of this test module


def test_every_sentence_reads_without_python_internals_when_details_are_missing_or_unknown(app):
    bad = []
    with app.test_request_context():
        for action in sorted(SENTENCES):
            bare = describe(AuditEvent(action=action, resource_type="thing", resource_id="999", details={}),
                            Names(), LJUBLJANA)
            odd = describe(AuditEvent(action=action, resource_type="thing", resource_id=None,
                                      details={"counts": {"sent": 3, "failed": 0}, "nothing": None, "empty": "",
                                               "flags": [True, False]}), Names(), LJUBLJANA)
            if not bare.strip() or PYTHON_INTERNALS.search(bare) or PYTHON_INTERNALS.search(odd) \
                    or "nothing" in odd or "empty" in odd:
                bad.append(f"{action}: {bare!s} | {odd!s}")
    assert not bad, "\n".join(bad)


def test_an_unknown_action_reads_as_words_and_its_details_as_key_value_pairs(app):
    with app.test_request_context():
        text = describe(AuditEvent(action="test.thing_done", resource_type="thing", resource_id="1",
                                   details={"counts": {"sent": 3}, "at": "2026-12-07T20:04:00+00:00", "gone": None}),
                        Names(), LJUBLJANA)
    assert re.fullmatch(r"test thing done counts: sent: 3; at: Mon 7 Dec( 2026)?, 21:04", text_of(text))


def test_values_read_as_words():
    assert value_words({"sent": 3, "failed": 0, "skipped": None}, UTC) == "sent: 3, failed: 0"
    assert value_words([True, "x", None], UTC) == "yes, x"
    assert value_words(12500, UTC) == "12,500"
    assert time_words(datetime(2026, 7, 1, 19, 30, tzinfo=UTC), LJUBLJANA).endswith(", 21:30")  # summer: UTC+2


# -- sentences with names and links ----------------------------------------------------------------------------


def test_a_promotion_says_which_copy_went_to_production_with_links_and_the_cache_it_cleared(auth, db, factories,
                                                                                             redis):
    promoter = factories.user("promoter", email="pat@example.com")
    proc = factories.process(promoter, "Greeter")
    factories.production(promoter, proc, {"prompt": "v1"})  # v1 sandbox → v2 production
    candidate = factories.version(promoter, proc, {"prompt": "v3"})
    for i in range(4):
        cache.put(proc.id, f"k{i}", {"out": i}, 600)
    promoted = process_promotion.promote(promoter, candidate.id).promoted
    auth.login(promoter.label)
    cell = what_column(auth.get("/audit?action=version.promoted").get_data(as_text=True))[0]
    assert text_of(cell) == "promoted v4 (copy of v3) of Greeter to production, replacing v2; 4 cache entries cleared"
    assert f'<a href="/versions/{promoted.id}">v4</a>' in cell
    assert f'<a href="/versions/{candidate.id}">v3</a>' in cell
    assert f'<a href="/processes/{proc.slug}">Greeter</a>' in cell


def test_a_world_promotion_names_the_area_and_the_connection_room(auth, db, factories):
    admin = factories.user("admin")
    limbo = factories.live_room(admin, "limbo", "Village square")
    project = factories.build_project(admin, name="The Old Mill")
    world_promotion.promote(admin, project.id, limbo.id, "north")
    auth.login(admin.label)
    cell = what_column(auth.get("/audit?action=build.promoted").get_data(as_text=True))[0]
    assert text_of(cell) == ("promoted the area The Old Mill (3 rooms) into the live world, "
                             "connected north of Village square")
    assert f'<a href="/builds/{project.id}">The Old Mill</a>' in cell
    assert f'<a href="/world/rooms/{limbo.id}">Village square</a>' in cell


def test_governance_events_name_the_request_the_requester_and_who_approved(auth, db, factories):
    admin = factories.user("admin", email="admin@example.com")
    alice = factories.user("promoter", email="alice@example.com")
    bob = factories.user("promoter", email="bob@example.com")
    proc = factories.process(alice, "Support bot")
    factories.production(alice, proc, {"prompt": "v1"})
    version = factories.version(alice, proc, {"prompt": "v2"})
    governance.set_policy(admin, "workspace", PolicyCommand(required_approvals=1))
    token = process_promotion.promotion_preview(alice, version.id).token
    request = governance.request_promotion(alice, RequestCommand(flow="process", source=version.id,
                                                                 preview_token=token))
    governance.decide(bob, request.id, Decision.approve, "looks right")
    governance.apply(alice, request.id)
    auth.login(admin.label)
    cells = [text_of(c) for c in what_column(auth.get("/audit?action=promotion").get_data(as_text=True))]
    title = "Support bot v3 → production"
    assert cells[0] == f"applied request #{request.id} “{title}” of Support bot, approved by bob@example.com"
    assert cells[1] == (f"approved alice@example.com's request #{request.id} “{title}” of Support bot "
                        "(1 of 1 approvals): “looks right”")
    assert cells[2] == f"asked for request #{request.id} “{title}” of Support bot (1 approval needed)"
    html = auth.get("/audit?action=promotion.approved").get_data(as_text=True)
    assert f'href="/reviews/{request.id}"' in html
    policy = text_of(what_column(auth.get("/audit?action=policy").get_data(as_text=True))[0])
    assert policy == "set the approval policy of the workspace: 1 approval by promoters or admins, not by the requester"


def test_a_campaign_event_names_its_night_by_date_and_a_deleted_object_falls_back_to_its_id(auth, db, factories):
    admin = factories.user("admin")
    audit.record(admin, "campaign.created", "campaign", 4242,
                 {"date": "2026-12-11", "start_at": "2026-12-11T20:00:00+00:00", "recipients": 5, "dry_run": False,
                  "statuses": ["available"], "min_players": None})
    audit.record(admin, "build.submitted", "build_project", 999, {"from": "draft", "to": "submitted"})
    audit.record(admin, "version.activated", "process_version", 31337, {"process": "gone", "version": 7})
    db.session.commit()
    auth.login(admin.label)
    cells = [text_of(c) for c in what_column(auth.get("/audit").get_data(as_text=True))]
    assert cells[0] == "made v7 of gone the active sandbox version"
    assert cells[1] == "submitted build #999 for review"
    assert re.match(r"promoted the game night of Fri 11 Dec( 2026)? at 21:00 to 5 players$", cells[2])


def test_a_page_of_events_looks_names_up_once_per_kind_not_once_per_row(auth, db, factories):
    admin = factories.user("admin")
    auth.login(admin.label)

    def queries_for_page() -> int:
        seen: list[str] = []
        engine = _db.engine
        listener = lambda *args: seen.append(args[2])
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert auth.get("/audit").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    def add_events(n: int) -> None:
        proc = factories.process(admin)
        for i in range(n):
            audit.record(admin, "campaign.cancelled", "campaign", 1000 + i, {"jobs_cancelled": 1})
            audit.record(admin, "version.updated", "process_version", 2000 + i, {"process": proc.slug, "version": i})
            audit.record(admin, "build.built", "build_project", 3000 + i, {"rooms": 1, "exits": 0})
            audit.record(admin, "campaign.answered", "campaign", 1000 + i, {"user_id": admin.user_id, "answer": "in"})
        db.session.commit()

    add_events(2)
    few = queries_for_page()
    add_events(20)
    assert queries_for_page() == few


# -- times -----------------------------------------------------------------------------------------------------


def test_times_are_the_workspaces_with_the_full_iso_time_in_the_title(auth, db, factories):
    admin = factories.user("admin")
    audit.record(admin, "thing.done", "thing", 1).created_at = datetime(2026, 12, 7, 20, 4, 13, tzinfo=UTC)
    db.session.commit()
    auth.login(admin.label)
    html = auth.get("/audit?action=thing").get_data(as_text=True)
    assert re.search(r'<time datetime="2026-12-07T20:04:13\+00:00" title="2026-12-07T21:04:13\+01:00">'
                     r"Mon 7 Dec( 2026)?, 21:04</time>", html)
