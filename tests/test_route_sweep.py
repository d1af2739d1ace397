"""Every route of the app, with every kind of wrong input a hurried person or a broken script sends:
nothing may answer 500. New routes are swept automatically (the list comes from the URL map)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from webapp.extensions import utcnow
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.webhooks import services as webhooks

BOT_URLS = ("/api/v1/link/confirm", "/api/v1/availability", "/api/v1/presence")
SKIPPED_ENDPOINTS = ("static", "rq_dashboard.")  # vendored files; rq-dashboard is tested in test_security
BAD_QUERY = {"page": "-1", "per_page": "0", "old": "x", "new": "", "from": "abc", "since": "yesterday",
             "until": "2026-13-45", "format": "xml", "limit": "many", "action": "%", "resource": ":",
             "q": "%_\\", "area": "x", "highlight": "-5", "x": "1e99", "y": "", "span": "100000",
             "connection_room_id": "abc", "direction": "sideways", "connection_direction": "??", "month": "2026-99",
             "day": "someday", "status": "sleepy", "statuses": "sleepy", "date": "2026-02-30", "start_time": "xx",
             "lead_minutes": "-5", "dry_run": "on"}
BAD_FORM = {"name": "x" * 5000, "config": "[1,", "input_schema": '{"type": 5}', "output_schema": "null",
            "environment": "moon", "url": "ftp://nowhere", "workspace_id": "abc", "change_notes": "é" * 10_000,
            "preview_token": "garbage", "based_on": "-3", "email": "not-an-email", "password": "",
            "key": "a b", "attributes": "{", "tags": "a;b", "source_id": "x", "destination_id": "-1",
            "direction": "sideways", "aliases": "A B", "connection_room_id": "9" * 30, "reason": "", "document": "[",
            "day": "2020-01-01", "status": "sleepy", "display_name": "", "quiet_hours": "late", "time_zone": "Mars",
            "game_start": "9pm", "lead_minutes": "-1", "channel_order": "irc", "statuses": "sleepy",
            "start_time": "25:61", "date": "2026-13-01", "idempotency_key": "k" * 500, "dry_run": "maybe",
            "summary_target": "javascript:alert(1)", "team_count": "x", "seed": "1e9", "move": "abc",
            "op": "explode", "planning_threshold": "-1", "post_target": "javascript:", "team_name_0": "x" * 100,
            "player_1": "²", "clear_post_target": "on"}
BAD_JSON_BODIES = [b"", b"[]", b'"text"', b"{", b'{"config": "not an object"}',
                   b'{"config": {}, "input_schema": "x", "output_schema": []}', b'{"name": 5, "slug": ["a"]}',
                   b'{"change_notes": 5, "preview_token": ["x"]}', b'{"name": ""}', b"\xff\xfe",
                   b'{"name": "X", "rooms": [{"key": 5}], "exits": {}}', b'{"rooms": [null], "exits": [7]}',
                   b'{"connection_room_id": true, "connection_direction": 5}', b'{"reason": ["x"]}',
                   b'{"name": "X", "rooms": [{"key": "a", "name": "A", "tags": "t"}], "entry": {"x": 1}}',
                   b'{"code": 5, "channel": ["x"], "external_id": {}}', b'{"code": "AB", "channel": "discord", "external_id": 4}',
                   b'{"channel": "discord", "external_id": "42", "date": "2026-02-30", "status": "maybe"}',
                   b'{"channel": "discord", "external_id": "42", "date": 5, "status": 7}',
                   b'{"channel": "discord", "external_id": "42", "date": "tomorrow", "status": null}',
                   b'{"statuses": ["maybe", 5], "date": "tomorrow", "start_time": "7pm", "lead_minutes": true}',
                   b'{"statuses": "available", "dry_run": null, "date": [1]}',
                   b'{"source": "voice", "present": [null, 1.5]}', b'{"source": ["voice"], "present": {}}',
                   b'{"teams": [{"name": 5, "players": [true]}], "auto": "yes"}', b'{"suggestion_id": [1], "name": 5}',
                   b'{"auto": true, "team_count": "x", "seed": [], "names": [1]}', b'{"date": "2020-01-01"}',
                   b'{"auto": true, "team_count": 2, "names": [5, null]}', b'{"teams": [{"players": {}}, 3]}']


@pytest.fixture
def world(db, factories):
    """A workspace with one of everything, so that routes taking an id get real ones too."""
    admin = factories.user("admin", "Acme")
    proc = factories.process(admin, "Greeter")
    draft = factories.version(admin, proc, activate=False)
    live = factories.production(admin, proc)
    key = factories.environment_key(admin)
    token = factories.personal_token(admin)
    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/acme")
    effect = db.session.scalars(select(OutboxEffect)).first()
    effect.status = EffectStatus.failed
    db.session.commit()
    limbo = factories.live_room(admin)
    draft_build = factories.build_project(admin, until="draft")
    built = factories.build_project(admin)
    design_room = draft_build.rooms[0]
    ids = {"version_id": [draft.id, live.id, 999_999_999], "effect_id": [effect.id, 999_999_999],
           "token_id": [1, 999_999_999], "endpoint_id": [endpoint.id, 999_999_999],
           "project_id": [draft_build.id, built.id, 999_999_999],
           "room_id": [design_room.id, limbo.id, built.rooms[0].room_id, 999_999_999],
           "exit_id": [draft_build.exits[0].id, 999_999_999]}
    from webapp.gamenight import services as gamenight
    from webapp.notify.models import Channel, Contact

    gamenight.save_profile(admin, "Ada", "ada#1")
    contact = Contact(workspace_id=admin.workspace_id, user_id=admin.user_id, channel=Channel.discord,
                      external_id="42", confirmed_at=effect.created_at)
    db.session.add(contact)
    db.session.commit()
    ids["contact_id"] = [contact.id, 999_999_999]
    from webapp.gamenight import campaigns

    local = (utcnow() + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Ljubljana"))
    campaign, _ = campaigns.create(admin, day=local.date().isoformat(), start_time=local.strftime("%H:%M"))
    ids["campaign_id"] = [campaign.id, 999_999_999]
    ids["token"] = ["not-a-signed-link", "eyJjIjo1LCJhIjoieEB5LnoifQ.x.y"]
    from webapp.gamenight import planning

    planning.update_settings(admin, 1)
    gamenight.set_status(admin.workspace_id, admin.user_id, gamenight.local_today(gamenight.workspace(
        admin.workspace_id)), gamenight.Status.available, actor_label="test")
    member = planning.Member.of(admin)
    planning.create(member)
    suggestion, _ = planning.suggest(member, "Owls")
    ids["suggestion_id"] = [suggestion.id, 999_999_999]
    ids["day"] = [gamenight.local_today(gamenight.workspace(admin.workspace_id)).isoformat(), "2020-01-01", "someday"]
    return {"admin": admin, "slugs": [proc.slug, "acme", "no-such-process"], "ids": ids, "key": key,
            "token": token, "bot": gamenight.rotate_bot_token(admin)}


def _urls(rule: str, world: dict) -> list[str]:
    urls = [rule]
    for name, values in (("slug", world["slugs"]), *world["ids"].items()):
        pattern = re.compile(rf"<(?:int:)?{name}>")
        urls = [pattern.sub(str(v), u) for u in urls for v in values] if any(pattern.search(u) for u in urls) else urls
    assert not any("<" in u for u in urls), f"the sweep does not know how to fill {rule}"
    return urls


def test_no_route_answers_500_to_bad_input(app, auth, client, world):
    auth.login(world["admin"].label)
    api_headers = {"Authorization": f"Bearer {world['token']}"}
    serve_headers = {"Authorization": f"Bearer {world['key']}"}
    bot_headers = {"Authorization": f"Bearer {world['bot']}"}
    failures: list[str] = []
    rules = [r for r in app.url_map.iter_rules() if not r.endpoint.startswith(SKIPPED_ENDPOINTS)]
    assert len(rules) > 30
    for rule in sorted(rules, key=lambda r: r.rule):
        if rule.rule == "/logout":
            continue  # swept last: it ends the session the others need
        for url in _urls(rule.rule, world):
            headers = serve_headers if url.startswith("/api/v1/serve/") else bot_headers if url in BOT_URLS \
                else api_headers
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                # Each bad query parameter alone too: one bad value must not hide the handling of another.
                queries = [BAD_QUERY, *({name: value} for name, value in BAD_QUERY.items())]
                if url.startswith("/api/"):
                    attempts = [client.get(url, headers=headers, query_string=q) for q in queries] if method == "GET" else [
                        client.post(url, headers=headers, data=body, content_type="application/json")
                        for body in BAD_JSON_BODIES]
                elif method == "GET":
                    attempts = [auth.get(url, htmx=htmx, query_string=q) for q in queries for htmx in (False, True)]
                else:
                    attempts = [auth.post(url, data=BAD_FORM), auth.post(url, htmx=True, data={}),
                                auth.post(url, data=BAD_FORM, query_string=BAD_QUERY)]
                failures += [f"{method} {url} → {r.status_code}" for r in attempts if r.status_code >= 500]
    assert auth.post("/logout", data=BAD_FORM).status_code < 500
    assert failures == []
