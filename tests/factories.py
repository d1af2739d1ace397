"""Build users, processes and versions through the real services (so rules stay enforced)."""

from __future__ import annotations

import itertools
from typing import Any

from webapp.accounts import services as accounts
from webapp.accounts.services import Actor
from webapp.processes import documents, promotion
from webapp.processes.models import Process, ProcessVersion

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def user(role: str = "admin", workspace: str = "Acme", email: str | None = None) -> Actor:
    """A user with `role` in `workspace` (created if needed); returns the user's actor there."""
    email = email or f"{role}{next(_seq)}@example.com"
    u, m = accounts.create_user(email, PASSWORD, workspace, role)
    return accounts.actor_for_user(u, m.workspace_id)


def process(actor: Actor, name: str | None = None) -> Process:
    return documents.create_process(actor, name or f"Process {next(_seq)}")


def version(actor: Actor, proc: Process, config: dict[str, Any] | None = None, *, activate: bool = True,
            input_schema: dict[str, Any] | None = None, notes: str = "") -> ProcessVersion:
    v = documents.create_draft(actor, proc, config if config is not None else {"prompt": "Hello {{ name }}"},
                               input_schema, None, notes)
    if activate:
        documents.activate(actor, v.id)
    return v


def production(actor: Actor, proc: Process, config: dict[str, Any] | None = None) -> ProcessVersion:
    """A sandbox version promoted to production; returns the production copy."""
    v = version(actor, proc, config)
    return promotion.promote(actor, v.id).promoted


def environment_key(actor: Actor, environment: str = "production") -> str:
    return accounts.create_environment_key(actor, environment)[1]


def personal_token(actor: Actor) -> str:
    return accounts.create_personal_token(actor)[1]


# -- worlds -------------------------------------------------------------------------------------

AREA = {  # three rooms in a line, with attributes a game would keep on them
    "rooms": [
        {"key": "gate", "name": "Mill gate", "description": "A gate.", "attributes": {"hp": 10, "light": 1.5},
         "tags": [{"key": "outdoors", "category": "terrain"}]},
        {"key": "yard", "name": "Mill yard", "description": "Sacks of grain.",
         "attributes": {"sheet": {"str": 12, "skills": ["milling", "haggling"], "cursed": None}}},
        {"key": "loft", "name": "Grain loft", "description": "Dust.\n# not a comment", "attributes": {}},
    ],
    "exits": [
        {"source": "gate", "destination": "yard", "direction": "north"},
        {"source": "yard", "destination": "gate", "direction": "south"},
        {"source": "yard", "destination": "loft", "direction": "up", "aliases": ["ladder"]},
        {"source": "loft", "destination": "yard", "direction": "down"},
    ],
}


def live_room(actor: Actor, key: str = "limbo", name: str | None = None) -> Any:
    from webapp.worlds import design, live

    return live.add_live_room(actor, design.room_fields(key, name or key.title(), f"The {key}."))


def build_project(actor: Actor, document: dict[str, Any] | None = None, *, until: str = "built",
                  name: str | None = None) -> Any:
    """A project with `document`'s rooms (AREA by default), taken through the workflow up to `until`
    (draft, submitted, approved or built). `actor` needs the promoter role for approval."""
    from webapp.worlds import design, lifecycle, sandbox

    project = design.create_project(actor, name or f"Area {next(_seq)}", "", document or AREA)
    for step, status in (("submit", "submitted"), ("approve", "approved"), ("build", "built")):
        if until == "draft" or project.status.value == until:
            break
        project = sandbox.build_sandbox(actor, project.id) if step == "build" else \
            lifecycle.transition(actor, project.id, step)
        if status == until:
            break
    return project


def player(workspace_id: int, email: str, status: str | None = "available", *, target: str | None = None,
           opted_in: bool = True, quiet_hours: str | None = None, channel: str = "discord",
           external_id: str | None = None, day: Any = None, name: str | None = None) -> int:
    """A linked member (profile + confirmed contact), opted in or not, with a status for `day` (local today)."""
    from webapp.accounts.models import Workspace
    from webapp.extensions import db, utcnow
    from webapp.gamenight import night_settings
    from webapp.gamenight.models import Availability, PlayerProfile, Status
    from webapp.notify import contacts
    from webapp.notify.models import Channel, Contact, Preference

    ws = db.session.get(Workspace, workspace_id)
    member = user("viewer", ws.name, email=email)
    assert member.user_id is not None
    db.session.add(PlayerProfile(workspace_id=workspace_id, user_id=member.user_id,
                                 display_name=name or email.split("@")[0].title(), aliases=[]))
    contact = Contact(workspace_id=workspace_id, user_id=member.user_id, channel=Channel(channel),
                      external_id=external_id or f"ext-{member.user_id}", confirmed_at=utcnow())
    if target:
        contacts.set_target(contact, target)
    db.session.add(contact)
    db.session.add(Preference(workspace_id=workspace_id, user_id=member.user_id, opted_in=opted_in,
                              channel_order=[], quiet_hours=quiet_hours))
    if status:
        db.session.add(Availability(workspace_id=workspace_id, user_id=member.user_id,
                                    day=day or night_settings.local_today(ws), status=Status(status)))
    db.session.commit()
    return member.user_id
