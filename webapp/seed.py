"""Demo data for `flask seed-demo`: a workspace a newcomer can promote in within a minute."""

from __future__ import annotations

from sqlalchemy import select

from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.demo import DEMO_INBOX, PLAYERS, STAFF
from webapp.extensions import db
from webapp.processes import documents, promotion

SUPPORT_PROMPT = """You are the support triage assistant for {{ product }}.
Read the customer's message and decide:
1. the category (billing, bug, how-to, other)
2. the urgency (low, normal, high)
Answer in JSON that matches the output schema.
Be brief and kind."""


def seed_demo(email: str, password: str, workspace: str) -> bool:
    """Create the demo once; returns False when it already exists."""
    if db.session.scalar(select(User.id).where(User.email == email)):
        accounts.set_operator(email, True)  # a demo seeded before operators existed still shows /rq
        return False
    # The demo admin is also the installation's operator, so `make run` shows them the RQ dashboard.
    hashed = accounts.hash_password(password)  # once: scrypt is most of the seeding's time, and all nine share it
    user, membership = accounts.create_user(email, password, workspace, "admin", operator=True, password_hash=hashed)
    ws_id = membership.workspace_id
    others = {who: accounts.create_user(f"{who}@example.com", password, workspace, role, password_hash=hashed)[0]
              for who, role in STAFF}
    actor = accounts.actor_for_user(user, ws_id)
    seed_world(actor, accounts.actor_for_user(others["promoter"], ws_id))
    seed_game_nights(actor, password, hashed)

    triage = documents.create_process(actor, "Support triage", "support-triage",
                                      "Classifies incoming support messages.")
    input_schema = {"type": "object", "required": ["message"],
                    "properties": {"message": {"type": "string", "minLength": 1},
                                   "product": {"type": "string"}}}
    output_schema = {"type": "object", "required": ["category", "urgency"],
                     "properties": {"category": {"enum": ["billing", "bug", "how-to", "other"]},
                                    "urgency": {"enum": ["low", "normal", "high"]}}}
    v1 = documents.create_draft(actor, triage, {
        "model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 300,
        "system_prompt": SUPPORT_PROMPT, "user_prompt": "{{ message }}",
    }, input_schema, output_schema, "First version")
    documents.activate(actor, v1.id)
    promotion.promote(actor, v1.id, "Launch")
    v3 = documents.create_draft(actor, triage, {
        "model": "gpt-4o-mini", "temperature": 0.1, "max_tokens": 400,
        "system_prompt": SUPPORT_PROMPT.replace("Be brief and kind.",
                                                "Be brief and kind.\nNever promise refunds."),
        "user_prompt": "{{ message }}", "stop": ["\n\n"],
    }, input_schema, output_schema, "Lower temperature; no refund promises")
    documents.activate(actor, v3.id)
    documents.create_draft(actor, triage, {**v3.config, "temperature": 0.0}, input_schema, output_schema,
                           "Try temperature 0")

    summary = documents.create_process(actor, "Release notes summariser", "release-notes",
                                       "Turns a changelog into a short announcement.")
    draft = documents.create_draft(actor, summary, {
        "model": "gpt-4o", "temperature": 0.7,
        "prompt": "Summarise these changes for {{ audience | default('users') }}:\n{{ changelog }}",
    }, {"type": "object", "required": ["changelog"], "properties": {"changelog": {"type": "string"}}},
        None, "First cut: one paragraph per audience")
    documents.activate(actor, draft.id)
    return True


LIVE_WORLD = [  # key, name, description, (direction from the previous room's anchor, anchor key)
    ("limbo", "Limbo", "A grey nowhere between worlds. Every new soul starts here.", None),
    ("square", "Village square", "Cobbles worn smooth around a well. Lanes lead off in every direction.",
     ("north", "limbo")),
    ("tavern", "The Crooked Tankard", "Low beams, a roaring hearth and a barkeep who has heard it all.",
     ("east", "square")),
    ("forest", "Forest path", "Birches lean over a path of soft needles.", ("west", "square")),
    ("tower", "Watchtower top", "Wind, and the whole valley below.", ("up", "square")),
]
MILL = {
    "rooms": [
        {"key": "millyard", "name": "Mill yard", "description": "Sacks of grain wait by a creaking waterwheel.",
         "attributes": {"ambient": "water", "light": 3}, "tags": [{"key": "outdoors", "category": "terrain"}]},
        {"key": "millfloor", "name": "Mill floor", "description": "The great stones grind, and flour hangs in the air.",
         "attributes": {"noise": "loud", "npc": {"name": "Miller Jana", "level": 4, "stats": {"str": 14, "wis": 11}}}},
        {"key": "loft", "name": "Grain loft", "description": "Dusty beams, and a hatch to the sky.\n\nSomething rustles.",
         "attributes": {"light": 1, "secret": True}},
    ],
    "exits": [
        {"source": "millyard", "destination": "millfloor", "direction": "north"},
        {"source": "millfloor", "destination": "millyard", "direction": "south"},
        {"source": "millfloor", "destination": "loft", "direction": "up"},
        {"source": "loft", "destination": "millfloor", "direction": "down"},
    ],
}


def seed_world(admin: accounts.Actor, promoter: accounts.Actor) -> None:
    """A small live world around Limbo, and "The Old Mill" built in a sandbox, ready to promote."""
    from webapp.worlds import design, lifecycle, live, sandbox

    rooms = {}
    for key, name, description, link in LIVE_WORLD:
        rooms[key] = live.add_live_room(admin, design.room_fields(key, name, description))
        if link:
            direction, anchor = link
            live.link_rooms(admin, rooms[anchor].id, rooms[key].id, direction)
    mill = design.create_project(admin, "The Old Mill", "A working mill north-east of the village.", MILL)
    lifecycle.transition(admin, mill.id, "submit")
    lifecycle.transition(promoter, mill.id, "approve")
    sandbox.build_sandbox(admin, mill.id)


def seed_game_nights(admin: accounts.Actor, password: str, password_hash: str | None = None) -> None:
    """Five linked players with statuses for today and tomorrow, four opted in, messages to the demo inbox;
    today's planning room unlocks at three ready players and is announced in the demo inbox."""
    from datetime import timedelta

    from webapp.gamenight import availability, night_settings, planning_settings, players
    from webapp.gamenight.models import Status
    from webapp.notify import contacts
    from webapp.notify.models import Channel, Preference

    ws = night_settings.workspace(admin.workspace_id)
    night_settings.set_summary_target(admin, night_settings.SummaryChannelCommand(summary_target=f"{DEMO_INBOX}/summary"))
    planning_settings.update_settings(admin, 3, f"{DEMO_INBOX}/rooms")  # three are ready today: the room can open
    today = night_settings.local_today(ws)
    for number, (name, now, tomorrow, opted_in) in enumerate(PLAYERS, start=1):
        user, _ = accounts.create_user(f"{name.lower()}@example.com", password, ws.name, "viewer",
                                       password_hash=password_hash)
        player = accounts.actor_for_user(user, ws.id)
        players.save_profile(player, players.PlayerCommand(display_name=name, aliases=[f"{name.lower()}_{number}"]))
        contact, _ = contacts.attach_identity(ws.id, user.id, Channel.discord, str(100_000 + number))
        contacts.set_target(contact, f"{DEMO_INBOX}/{name.lower()}")
        db.session.add(Preference(workspace_id=ws.id, user_id=user.id, opted_in=opted_in, channel_order=["discord"]))
        db.session.commit()
        for day, status in ((today, now), (today + timedelta(days=1), tomorrow)):
            if status:
                availability.set_status(ws.id, user.id, day, Status(status), actor_label="seed")
