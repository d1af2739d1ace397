"""Who may open which page: every GET route of the URL map, for each kind of visitor, against a table that
states the rule per route. A route missing from the table fails the test, so a new page gets its rule
written down (and checked) when it is added."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import Queue

from webapp.accounts import services as accounts
from webapp.accounts.models import Role
from webapp.extensions import utcnow

VISITORS = ("anonymous", "viewer", "editor", "promoter", "admin", "operator")
# The operator is a viewer in the workspace: the instance-level role grants nothing inside a workspace.
WORKSPACE_ROLE = {"viewer": Role.viewer, "editor": Role.editor, "promoter": Role.promoter, "admin": Role.admin,
                  "operator": Role.viewer}

PUBLIC = "public"  # 200 for everyone
OPERATOR = "operator"  # the installation's operators; 404 to every other signed-in person, visitors sign in
TOKEN = "token"  # the JSON API: a bearer token, not the session; 401 without one

RULES: dict[str, object] = {
    # -- open to anyone
    "accounts.login": PUBLIC,
    "health": PUBLIC,
    "static": PUBLIC,
    "gamenight.availability": PUBLIC,  # counts only, no names
    "gamenight.calendar": PUBLIC,
    "gamenight.calendar_feed": PUBLIC,  # the token in the URL is the key (a calendar app has no session)
    # -- any member
    "processes.index": Role.viewer, "processes.detail": Role.viewer, "processes.compare": Role.viewer,
    "processes.version": Role.viewer,
    "worlds.index": Role.viewer, "worlds.detail": Role.viewer, "worlds.world_map": Role.viewer,
    "worlds.room": Role.viewer, "worlds.room_search": Role.viewer, "worlds.export": Role.viewer,
    "gamenight_members.campaign_list": Role.viewer,
    "gamenight_members.campaign": Role.viewer, "gamenight_members.profile": Role.viewer,
    "gamenight_members.export_my_data": Role.viewer,
    "schedules.schedule_list": Role.viewer, "schedules.schedule": Role.viewer,
    "planning.today": Role.viewer, "planning.shared": Role.viewer,
    "desk.index": Role.viewer, "audit.index": Role.viewer, "audit.export": Role.viewer,
    "accounts.tokens": Role.viewer, "accounts.account": Role.viewer,
    "worlds.edit_room": Role.editor,  # the form is for those who may save it
    # -- editors and up
    "processes.new_version": Role.editor, "processes.edit_version": Role.editor,
    # -- promoters and up
    "processes.promote_dialog": Role.promoter, "worlds.promote_dialog": Role.promoter,
    "worlds.unpromote_dialog": Role.promoter,  # return to sandbox, as promoting (forcing it needs admin)
    "gamenight_members.campaign_preview": Role.promoter, "gamenight_members.cancel_campaign_dialog": Role.promoter,
    "schedules.delete_schedule_dialog": Role.promoter, "schedules.skip_night_dialog": Role.promoter,
    "gamenight_members.call_off_campaign_dialog": Role.promoter,
    "governance.index": Role.promoter, "governance.review": Role.promoter,  # reviews: those who may approve
    # -- admins
    "accounts.keys": Role.admin, "webhooks.index": Role.admin, "webhooks.endpoint": Role.admin,
    "accounts.members": Role.admin,
    "outbox.jobs": Role.admin, "gamenight_members.settings": Role.admin, "world_admin.settings": Role.admin,
    "world_admin.live_world": Role.admin, "world_admin.live_room": Role.admin, "world_admin.live_room_removal": Role.admin,
    "world_admin.live_exit_removal": Role.admin, "governance.policy": Role.admin,
    # -- routes whose answer does not depend on who asks (a redirect, or a feature switched off)
    "gamenight_members.my_availability": {"*": 302},  # to the login, or to the workspace's availability page
    "planning.past": {"*": 302},  # the matrix asks for today: to the login, or to /planning/today
    "discord.login": {"*": 404},  # Discord is not configured in the tests
    "discord.callback": {"*": 404},
    "discord_members.link": {"anonymous": 302, "*": 404},
    "discord_members.confirm": {"anonymous": 302, "*": 400},  # nothing to confirm without Discord's answer
    "gamenight.email_confirm_page": {"*": 404},  # the token in the URL is not a signed link
    # A reminder's answer link and a quorum warning's call-off link: the signed token is the key, whoever opens it
    # (a real one answers 200 to anyone: tests/gamenight/test_campaign_answers.py, test_campaign_quorum.py).
    "gamenight.answer_page": {"*": 404}, "gamenight.call_off_page": {"*": 404},
}
# By rule where one endpoint has several: rq-dashboard's other addresses of its overview redirect to `/rq/`,
# and its requeue-all answers POST only.
BY_RULE: dict[str, dict[str, int]] = {
    **{rule: {"anonymous": 302, "operator": 308, "*": 404}
       for rule in ("/rq/<int:instance_number>/", "/rq/<int:instance_number>/view",
                    "/rq/<int:instance_number>/view/queues")},
    "/rq/requeue/<queue_name>": {"anonymous": 302, "operator": 405, "*": 404},
    "/api/v1/openapi.json": {"*": 200},  # the API's OpenAPI document: public, no token
}
OPERATOR_ENDPOINTS = "rq_dashboard."  # every page of the RQ dashboard


def expected(endpoint: str, visitor: str, rule_path: str = "") -> int:
    rule = BY_RULE.get(rule_path) or (OPERATOR if endpoint.startswith(OPERATOR_ENDPOINTS)
                                      else TOKEN if endpoint.startswith("api.") else RULES.get(endpoint))
    assert rule is not None, f"{endpoint} has no rule in RULES: say who may open it"
    if rule == PUBLIC:
        return 200
    if rule == TOKEN:
        return 401
    if isinstance(rule, dict):
        return rule.get(visitor, rule["*"])
    if visitor == "anonymous":
        return 302
    if rule == OPERATOR:
        return 200 if visitor == "operator" else 404
    return 200 if WORKSPACE_ROLE[visitor] >= rule else 403


@pytest.fixture
def acme(db, factories, redis):
    """One workspace with one of everything a page can be about, made by its admin, and a member per role."""
    from webapp.gamenight import campaigns, night_settings
    from webapp.gamenight.campaign_plans import CampaignChoices

    admin = factories.user("admin", "Acme", email="admin@example.com")
    members = {"admin": admin, **{visitor: factories.user(WORKSPACE_ROLE[visitor].name, "Acme",
                                                         email=f"{visitor}@example.com")
                                  for visitor in ("viewer", "editor", "promoter", "operator")}}
    accounts.set_operator("operator@example.com", True)
    proc = factories.process(admin, "Greeter")
    factories.production(admin, proc)
    draft = factories.version(admin, proc, activate=False)
    candidate = factories.version(admin, proc, {"prompt": "Hi {{ name }}"})  # sandbox active, unlike production: promotable
    live_room = factories.live_room(admin)
    from webapp.worlds import live

    live_exit = live.link_rooms(admin, live_room.id, factories.live_room(admin, "square").id, "east")[0]
    project = factories.build_project(admin)
    from webapp.worlds import promotion

    live_project = factories.build_project(admin)  # its return-to-sandbox dialog
    promotion.promote(admin, live_project.id, live_room.id, "north")
    local = (utcnow() + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Ljubljana"))
    campaign, _ = campaigns.create(admin, CampaignChoices(day=local.date().isoformat(), start_time=local.strftime("%H:%M")))
    from webapp.gamenight import schedules

    schedule = schedules.create(admin, schedules.ScheduleCommand(weekdays=list(schedules.WEEKDAYS)))
    today = night_settings.local_today(night_settings.workspace(admin.workspace_id)).isoformat()
    from webapp.gamenight import calendar_feed

    _, feed_token = calendar_feed.issue(admin)
    job = Queue("default", connection=redis).enqueue("jobs.outbox.run_effect", 1)
    from webapp.webhooks import services as webhooks

    endpoint, _ = webhooks.create_endpoint(admin, "https://hooks.example/acme")  # its page and delivery log
    from webapp.governance import services as governance
    from webapp.processes import promotion as version_promotion

    # a promotion request, for its review dialog: the process needs one approval (other pages are unaffected)
    governance.set_policy(admin, f"process:{proc.id}", governance.PolicyCommand(required_approvals=1))
    review = governance.request_promotion(admin, governance.RequestCommand(
        flow="process", source=candidate.id, preview_token=version_promotion.promotion_preview(admin, candidate.id).token))
    values = {"slug": proc.slug, "version_id": draft.id, "project_id": project.id, "room_id": live_room.id,
              "campaign_id": campaign.id, "day": today, "token": "not-a-signed-link", "job_id": job.id,
              "instance_number": 0, "queue_name": "default", "registry_name": "queued", "per_page": 8,
              "order": "asc", "page": 1, "effect_id": 1, "token_id": 1, "endpoint_id": endpoint.id, "user_id": admin.user_id,
              "exit_id": live_exit.id, "feed_token": feed_token, "schedule_id": schedule.id,
              "night_id": schedule.nights[-1].id, "request_id": review.id}
    # Where an argument's name means something else on some routes: (rule prefix, argument) → value.
    special = {("/w/", "slug"): "acme", ("/builds/", "room_id"): project.rooms[0].id,
               ("/builds/<int:project_id>/unpromote", "project_id"): live_project.id,
               ("/rq/", "filename"): "css/bootstrap.css", ("/static/", "filename"): "app.css",
               ("/versions/<int:version_id>/promote", "version_id"): candidate.id}
    tomorrow = (local + timedelta(days=1)).date().isoformat()
    queries = {"processes.compare": {"old": draft.id, "new": candidate.id},
               "worlds.promote_dialog": {"connection_room_id": live_room.id, "direction": "north"},
               "gamenight_members.campaign_preview": {"date": tomorrow, "start_time": "21:00",
                                                      "statuses": "available"}}
    return {"members": members, "values": values, "special": special, "queries": queries}


def _url(rule, acme) -> str:
    url = rule.rule
    for name in rule.arguments:
        value = next((v for (prefix, arg), v in acme["special"].items() if arg == name and url.startswith(prefix)),
                     None)
        value = acme["values"][name] if value is None else value
        url = re.sub(rf"<(?:[^:>]+:)?{name}>", str(value), url)
    assert "<" not in url, f"the role matrix does not know how to fill {rule.rule}"
    return url


def test_every_page_answers_each_visitor_as_its_rule_says(app, auth, client, acme):
    rules = sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods), key=lambda r: r.rule)
    urls = [(rule.endpoint, rule.rule, _url(rule, acme)) for rule in rules]
    for endpoint, rule_path, _ in urls:
        expected(endpoint, "viewer", rule_path)  # every route has a rule, before anyone signs in
    wrong: list[str] = []
    for visitor in VISITORS:
        client.delete_cookie("session")
        if visitor != "anonymous":
            auth.login(acme["members"][visitor].label)
        for endpoint, rule_path, url in urls:
            got = client.get(url, query_string=acme["queries"].get(endpoint, {})).status_code
            want = expected(endpoint, visitor, rule_path)
            if got != want:
                    wrong.append(f"{visitor:9} GET {url} ({endpoint}) → {got}, expected {want}")
    assert wrong == [], "\n".join(wrong)


def test_a_route_without_a_rule_fails_the_matrix():
    with pytest.raises(AssertionError, match="no rule"):
        expected("brand_new.page", "admin")
