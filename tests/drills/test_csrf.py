"""Drill: a forged POST to every POST route of the URL map. A signed-in admin's browser sends it without a CSRF
token, with a made-up one, or with a token from another session (the attacker's own); form and htmx alike. Every
one is a 400 and writes nothing, neither in the database nor in Redis (the RQ dashboard's actions). The JSON API
takes bearer tokens, not cookies, and is CSRF-exempt by design."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.drills.database import changes, rows
from tests.drills.report import drill
from tests.urlmap import one_of_everything, urls
from webapp.gamenight.models import Campaign

API = "api."  # the token-authenticated blueprint


def _redis_state(redis) -> dict[bytes, bytes | None]:
    return {key: redis.dump(key) for key in redis.scan_iter("rq:*") if b":scheduler" not in key}


def test_every_post_route_refuses_a_signed_in_request_without_a_valid_csrf_token_and_writes_nothing(
        app, db, redis, factories, auth, client):
    world = one_of_everything(db, factories)
    rq_job = db.session.scalars(select(Campaign)).one().jobs[0].rq_job_id
    assert redis.exists(f"rq:job:{rq_job}")  # the dashboard's delete and requeue have a real job to act on
    auth.login(world["admin"].label)
    other = app.test_client()  # an attacker's own session, signed out: its token belongs to it alone
    page = other.get("/login").get_data(as_text=True)
    stolen = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    forged_tokens = {"no token": None, "made-up token": "IjAwMDAi.aaaa.bbbb", "another session's token": stolen}
    rules = [r for r in app.url_map.iter_rules() if "POST" in r.methods and not r.endpoint.startswith(API)]
    assert len(rules) > 30 and any(r.endpoint.startswith("rq_dashboard.") for r in rules)
    before, queued = rows(db), _redis_state(redis)
    answers: dict[str, int] = {}
    for rule in sorted(rules, key=lambda r: r.rule):
        rule_text = rule.rule.replace("<job_id>", rq_job).replace("<queue_name>", "default") \
            .replace("<registry_name>", "scheduled")
        for url in urls(rule_text, world):
            for what, token in forged_tokens.items():
                form = {"csrf_token": token} if token else {}
                answers[f"POST {url} form, {what}"] = client.post(url, data=form).status_code
                headers = {"HX-Request": "true"} | ({"X-CSRFToken": token} if token else {})
                answers[f"POST {url} htmx, {what}"] = client.post(url, data={}, headers=headers).status_code
    written, redis_changed = changes(before, rows(db)), _redis_state(redis) != queued

    accepted = {call: status for call, status in answers.items() if status != 400}
    assert accepted == {}, f"forged posts not refused with 400: {accepted}"
    assert written == {} and not redis_changed, (written, redis_changed)
    assert auth.get("/account").status_code == 200  # still signed in: even the forged logouts were refused
    assert auth.post("/settings/tokens", data={"name": "real"}).status_code != 400  # the session's own token works
    drill("csrf on every post", lost=sum(status < 400 for status in answers.values()) + sum(written.values())
          + redis_changed, duplicated=0)
