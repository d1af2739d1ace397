"""The URL map filled with real ids: a workspace with one of everything (`one_of_everything`) and every rule
made into the URLs that reach its objects (`urls`). The route sweep, the IDOR matrix and the CSRF drill use them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from webapp.extensions import utcnow
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.webhooks import services as webhooks

MISSING = 999_999_999  # an id nobody has
BOT_URLS = ("/api/v1/link/confirm", "/api/v1/availability", "/api/v1/presence", "/api/v1/campaigns/answers")


def one_of_everything(db: Any, factories: Any, workspace: str = "Acme") -> dict[str, Any]:
    """A workspace with one of everything, so that routes taking an id get real ones too: `ids` maps each URL
    argument to the workspace's real values followed by values nobody has."""
    admin = factories.user("admin", workspace)
    proc = factories.process(admin, "Greeter")
    draft = factories.version(admin, proc, activate=False)
    live = factories.production(admin, proc)
    key = factories.environment_key(admin)
    token = factories.personal_token(admin)
    endpoint, _ = webhooks.create_endpoint(admin, f"https://hooks.example/{workspace.lower()}")
    effect = db.session.scalars(select(OutboxEffect).where(OutboxEffect.workspace_id == admin.workspace_id)).first()
    effect.status = EffectStatus.failed
    db.session.commit()
    limbo = factories.live_room(admin)
    from webapp.worlds import live as live_world

    live_exits = live_world.link_rooms(admin, limbo.id, factories.live_room(admin, "square").id, "east")
    draft_build = factories.build_project(admin, until="draft")
    built = factories.build_project(admin)
    from webapp.worlds import promotion as world_promotion

    live_build = factories.build_project(admin)  # a live area: its return to sandbox
    world_promotion.promote(admin, live_build.id, limbo.id, "north")
    design_room = draft_build.rooms[0]
    from webapp.accounts.models import ApiToken

    token_ids = list(db.session.scalars(select(ApiToken.id).where(ApiToken.workspace_id == admin.workspace_id)))
    ids = {"version_id": [draft.id, live.id, MISSING], "effect_id": [effect.id, MISSING],
           "token_id": [*token_ids, MISSING], "endpoint_id": [endpoint.id, MISSING],
           "project_id": [draft_build.id, built.id, live_build.id, MISSING],
           "room_id": [design_room.id, limbo.id, built.rooms[0].room_id, MISSING],
           "exit_id": [draft_build.exits[0].id, live_exits[0].id, MISSING], "user_id": [admin.user_id, MISSING]}
    from webapp.gamenight import campaigns, night_settings
    from webapp.gamenight.campaign_plans import CampaignChoices

    contact_id, member = open_planning_room(db, admin, "Ada")
    ids["contact_id"] = [contact_id, MISSING]
    local = (utcnow() + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Ljubljana"))
    campaign, _ = campaigns.create(admin, CampaignChoices(day=local.date().isoformat(), start_time=local.strftime("%H:%M")))
    ids["campaign_id"] = [campaign.id, MISSING]
    from webapp.gamenight import schedules

    schedule = schedules.create(admin, schedules.ScheduleCommand(weekdays=list(schedules.WEEKDAYS)))
    ids["schedule_id"] = [schedule.id, MISSING]
    ids["night_id"] = [schedule.nights[-1].id, MISSING]
    ids["token"] = ["not-a-signed-link", "eyJjIjo1LCJhIjoieEB5LnoifQ.x.y"]
    from webapp.gamenight import calendar_feed

    ids["feed_token"] = [calendar_feed.issue(admin)[1], "pdcal_" + "A" * 43, "not-a-feed"]
    from webapp.gamenight import team_names

    suggestion, _ = team_names.suggest(member, "Owls")
    ids["suggestion_id"] = [suggestion.id, MISSING]
    ids["day"] = [night_settings.local_today(night_settings.workspace(admin.workspace_id)).isoformat(), "2020-01-01", "someday"]
    from webapp.governance import services as governance
    from webapp.processes import promotion

    reviewed = factories.version(admin, factories.process(admin, "Reviewed"))  # a promotion request's process
    governance.set_policy(admin, f"process:{reviewed.process_id}", governance.PolicyCommand(required_approvals=1))
    ids["request_id"] = [governance.request_promotion(admin, governance.RequestCommand(
        flow="process", source=reviewed.id, preview_token=promotion.promotion_preview(admin, reviewed.id).token)).id,
        MISSING]
    ws = night_settings.workspace(admin.workspace_id)
    return {"admin": admin, "slugs": [proc.slug, ws.slug, "no-such-process"], "ids": ids, "key": key,
            "token": token, "bot": night_settings.rotate_bot_token(admin)}


def open_planning_room(db: Any, admin: Any, name: str) -> tuple[int, Any]:
    """`admin` linked (a player profile, a confirmed Discord contact), available today, in today's planning
    room; (the contact's id, the planning member)."""
    from webapp.extensions import utcnow
    from webapp.gamenight import availability, night_settings, planning_rooms, planning_settings, players
    from webapp.gamenight.models import Status
    from webapp.notify.models import Channel, Contact

    players.save_profile(admin, players.PlayerCommand(display_name=name, aliases=f"{name.lower()}#1"))
    contact = Contact(workspace_id=admin.workspace_id, user_id=admin.user_id, channel=Channel.discord,
                      external_id=f"{name.lower()}-{admin.user_id}", confirmed_at=utcnow())
    db.session.add(contact)
    db.session.commit()
    planning_settings.update_settings(admin, 1)
    availability.set_status(admin.workspace_id, admin.user_id, night_settings.local_today(night_settings.workspace(
        admin.workspace_id)), Status.available, actor_label="test")
    member = planning_rooms.Member.of(admin)
    planning_rooms.create(member)
    return contact.id, member


def urls(rule: str, world: dict[str, Any]) -> list[str]:
    """`rule` with each of its arguments filled by every value `world` has for it."""
    filled = [rule]
    for name, values in (("slug", world["slugs"]), *world["ids"].items()):
        pattern = re.compile(rf"<(?:int:)?{name}>")
        if any(pattern.search(u) for u in filled):
            filled = [pattern.sub(str(v), u) for u in filled for v in values]
    assert not any("<" in u for u in filled), f"the sweep does not know how to fill {rule}"
    # Ids of different tables start at 1 alike (a design room's and a live room's): the same URL twice is the same
    # request twice, so each is kept once.
    return list(dict.fromkeys(filled))


def api_headers(url: str, world: dict[str, Any]) -> dict[str, str]:
    """The bearer a client of `url` sends: the environment key, the bot token or the personal access token."""
    bearer = world["key"] if url.startswith("/api/v1/serve/") else world["bot"] if url in BOT_URLS or \
        url.startswith("/api/v1/planning/") else world["token"]
    return {"Authorization": f"Bearer {bearer}"}
