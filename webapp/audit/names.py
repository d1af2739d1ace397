"""The names an audit page shows instead of ids: one bulk lookup per kind of object and page, never a query per row.

Audit sits in the platform layer, below the flows, so it reads their tables through lightweight `table()`
constructs (the columns it shows) and imports none of their models. Every lookup is scoped to the page's
workspace; what is not found (deleted since, or never there) is simply absent, and the sentence falls back
to "#id" or the name the event recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer, String, column, select, table

from webapp.audit.models import AuditEvent
from webapp.extensions import UTCDateTime, db

_PROCESSES = table("processes", column("id", Integer), column("workspace_id", Integer), column("slug", String),
                   column("name", String))
_VERSIONS = table("process_versions", column("id", Integer), column("process_id", Integer),
                  column("number", Integer), column("promoted_from_id", Integer))
_PROJECTS = table("build_projects", column("id", Integer), column("workspace_id", Integer), column("name", String))
_ROOMS = table("rooms", column("id", Integer), column("workspace_id", Integer), column("handle", String),
               column("name", String), column("sandbox_id", Integer))
_CAMPAIGNS = table("campaigns", column("id", Integer), column("workspace_id", Integer), column("local_day", Date),
                   column("start_at", UTCDateTime))
_REQUESTS = table("promotion_requests", column("id", Integer), column("workspace_id", Integer),
                  column("title", String), column("requested_by_id", Integer))
_APPROVALS = table("promotion_approvals", column("request_id", Integer), column("user_id", Integer),
                   column("decision", String), column("id", Integer))
_USERS = table("users", column("id", Integer), column("email", String))
_PROFILES = table("player_profiles", column("workspace_id", Integer), column("user_id", Integer),
                  column("display_name", String))
_NIGHT_SCHEDULES = table("night_schedules", column("id", Integer), column("workspace_id", Integer))
_WEBHOOKS = table("webhook_endpoints", column("id", Integer), column("workspace_id", Integer),
                  column("url_hint", String))

# Which kind of object a resource type or a detail key names.
RESOURCE_KINDS = {"process": "process", "process_version": "version", "build_project": "project", "room": "room",
                  "campaign": "campaign", "promotion_request": "request", "night_schedule": "night_schedule",
                  "webhook": "webhook", "user": "user"}
DETAIL_KINDS = {"user_id": "user", "campaign_id": "campaign", "request_id": "request", "process_id": "process",
                "project_id": "project", "build_project_id": "project", "connection_room_id": "room",
                "based_on": "version"}
# Details that name a live room by its handle (world edits, the connection room of a world promotion).
ROOM_HANDLE_KEYS = ("handle", "from", "to", "connection_room")


@dataclass(frozen=True)
class Version:
    number: int
    process_id: int
    promoted_from_id: int | None


@dataclass(frozen=True)
class Campaign:
    day: date
    start_at: datetime | None


@dataclass(frozen=True)
class Request:
    title: str
    requested_by_id: int | None


@dataclass
class Names:
    """What a page of events refers to, looked up once: `names.processes[id]` is (slug, name), and so on."""

    processes: dict[int, tuple[str, str]] = field(default_factory=dict)
    process_by_slug: dict[str, tuple[int, str]] = field(default_factory=dict)
    versions: dict[int, Version] = field(default_factory=dict)
    projects: dict[int, str] = field(default_factory=dict)
    rooms: dict[int, str] = field(default_factory=dict)
    room_by_handle: dict[str, tuple[int, str]] = field(default_factory=dict)
    campaigns: dict[int, Campaign] = field(default_factory=dict)
    requests: dict[int, Request] = field(default_factory=dict)
    approvers: dict[int, list[int]] = field(default_factory=dict)  # request id → who approved it, in order
    users: dict[int, str] = field(default_factory=dict)  # display name in the workspace, else e-mail
    night_schedules: set[int] = field(default_factory=set)
    webhooks: dict[int, str] = field(default_factory=dict)

    def user(self, user_id: Any) -> str | None:
        return self.users.get(as_id(user_id) or -1)


def as_id(value: Any) -> int | None:
    """An id from an event (resource ids are stored as text); None for anything that is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal() and len(value) < 19:
        return int(value)
    return None


def _wanted(events: Iterable[AuditEvent]) -> tuple[dict[str, set[int]], set[str], set[str]]:
    ids: dict[str, set[int]] = defaultdict(set)
    slugs: set[str] = set()
    handles: set[str] = set()
    for event in events:
        details = event.details or {}
        kind = RESOURCE_KINDS.get(event.resource_type)
        if kind and (found := as_id(event.resource_id)) is not None:
            ids[kind].add(found)
        for key, kind in DETAIL_KINDS.items():
            if (found := as_id(details.get(key))) is not None:
                ids[kind].add(found)
        if isinstance(details.get("process"), str):
            slugs.add(details["process"])
        if event.action.startswith(("world.", "build.promoted", "build.unpromoted")):
            handles.update(v for k in ROOM_HANDLE_KEYS if isinstance(v := details.get(k), str))
        for team in details.get("teams") or []:  # planning.teams_saved names its players by id
            ids["user"].update(p["user_id"] for p in team.get("players", []) if as_id(p.get("user_id")) is not None)
    return ids, slugs, handles


def look_up(workspace_id: int, events: Iterable[AuditEvent]) -> Names:
    """The names `events` refer to, in at most one query per kind of object."""
    events = list(events)
    ids, slugs, handles = _wanted(events)
    names = Names()
    execute = db.session.execute
    wanted = ids["version"]
    for _ in range(2):  # the versions, then the ones they were copied from ("v7 (copy of v5)")
        if not wanted:
            break
        for row in execute(select(_VERSIONS).where(_VERSIONS.c.id.in_(wanted))):
            names.versions[row.id] = Version(row.number, row.process_id, row.promoted_from_id)
            ids["process"].add(row.process_id)
        wanted = {v.promoted_from_id for v in names.versions.values() if v.promoted_from_id} - names.versions.keys()
    if ids["process"] or slugs:
        p = _PROCESSES.c
        for row in execute(select(_PROCESSES).where(p.workspace_id == workspace_id,
                                                    p.id.in_(ids["process"]) | p.slug.in_(slugs))):
            names.processes[row.id] = (row.slug, row.name)
            names.process_by_slug[row.slug] = (row.id, row.name)
    if ids["project"]:
        c = _PROJECTS.c
        names.projects = dict(execute(select(c.id, c.name).where(c.workspace_id == workspace_id,
                                                                 c.id.in_(ids["project"]))).all())
    if ids["room"] or handles:
        c = _ROOMS.c
        for row in execute(select(_ROOMS).where(c.workspace_id == workspace_id,
                                                c.id.in_(ids["room"]) | (c.handle.in_(handles)
                                                                         & c.sandbox_id.is_(None)))):
            names.rooms[row.id] = row.name
            names.room_by_handle[row.handle] = (row.id, row.name)
    if ids["campaign"]:
        c = _CAMPAIGNS.c
        for row in execute(select(_CAMPAIGNS).where(c.workspace_id == workspace_id, c.id.in_(ids["campaign"]))):
            names.campaigns[row.id] = Campaign(row.local_day, row.start_at)
    if ids["request"]:
        c = _REQUESTS.c
        for row in execute(select(_REQUESTS).where(c.workspace_id == workspace_id, c.id.in_(ids["request"]))):
            names.requests[row.id] = Request(row.title, row.requested_by_id)
            if row.requested_by_id is not None:
                ids["user"].add(row.requested_by_id)
        a = _APPROVALS.c
        for row in execute(select(a.request_id, a.user_id).where(a.request_id.in_(names.requests),
                                                                 a.decision == "approve").order_by(a.id)):
            names.approvers.setdefault(row.request_id, []).append(row.user_id)
            if row.user_id is not None:
                ids["user"].add(row.user_id)
    if ids["night_schedule"]:
        c = _NIGHT_SCHEDULES.c
        names.night_schedules = set(db.session.scalars(select(c.id).where(c.workspace_id == workspace_id,
                                                                          c.id.in_(ids["night_schedule"]))))
    if ids["webhook"]:
        c = _WEBHOOKS.c
        names.webhooks = dict(execute(select(c.id, c.url_hint).where(c.workspace_id == workspace_id,
                                                                     c.id.in_(ids["webhook"]))).all())
    if ids["user"]:
        u, pr = _USERS.c, _PROFILES.c
        names.users = dict(execute(select(u.id, u.email).where(u.id.in_(ids["user"]))).all())
        names.users.update(execute(select(pr.user_id, pr.display_name).where(
            pr.workspace_id == workspace_id, pr.user_id.in_(ids["user"]))).all())
    return names
