"""Audit events in plain words: one sentence per action, with links to what still exists.

`describe(event, names, zone)` is what the audit page shows in its "What" column. Each action recorded anywhere
in webapp/ has a sentence here (`SENTENCES`; tests/audit/test_sentences.py fails for one that has none). A
sentence reads the event's details through `Line.get`, so the keys it did not use are shown after it as a
readable "key: value" list — never a Python repr; None and empty values are left out. Names come from
`webapp.audit.names` (looked up once per page); a deleted object falls back to the name the event recorded,
or to "#id". Dates and times are in the workspace's time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from flask import url_for
from markupsafe import Markup

from webapp.audit.models import AuditEvent
from webapp.audit.names import Names, as_id, look_up


class M(Markup):
    """Markup whose `format` shows a value an old or odd event lacks as "?", never as "None"."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> M:
        def shown(value: Any) -> Any:
            return "?" if value is None else value
        return M(super().format(*map(shown, args), **{k: shown(v) for k, v in kwargs.items()}))


Sentence = Callable[["Line"], Markup]
SENTENCES: dict[str, Sentence] = {}
EMPTY = (None, "", [], {})


def says(*actions: str) -> Callable[[Sentence], Sentence]:
    def register(sentence: Sentence) -> Sentence:
        for action in actions:
            SENTENCES[action] = sentence
        return sentence
    return register


# -- words for values ---------------------------------------------------------------------------------------


def day_words(value: date | str | None) -> str:
    """"Mon 7 Dec" (with the year when it is not this year's)."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if value is None:
        return ""
    year = f" {value.year}" if value.year != date.today().year else ""
    return f"{value:%a} {value.day} {value:%b}{year}"


def time_words(value: datetime | str | None, zone: tzinfo) -> str:
    """"Mon 7 Dec, 21:04" in `zone`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value is None:
        return ""
    local = value.astimezone(zone) if value.tzinfo else value
    return f"{day_words(local.date())}, {local:%H:%M}"


def plural(n: Any, one: str, many: str | None = None) -> str:
    n = int(n or 0)
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def key_words(key: str) -> str:
    return key.replace("_", " ")


def _looks_like_time(text: str) -> bool:
    return len(text) >= 16 and text[4:5] == "-" and text[10:11] == "T"


def value_words(value: Any, zone: tzinfo) -> str:
    """A detail's value for a person: yes/no, lists joined, mappings as "key: value", ISO times in `zone`."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, str):
        return time_words(value, zone) if _looks_like_time(value) else value
    if isinstance(value, list | tuple):
        return ", ".join(value_words(v, zone) for v in value if v not in EMPTY)
    if isinstance(value, dict):
        return ", ".join(f"{key_words(str(k))}: {value_words(v, zone)}" for k, v in value.items() if v not in EMPTY)
    return str(value)


def q(text: Any) -> Markup:
    """A name in quotes."""
    return M("“{}”").format(text)


def link(text: Any, endpoint: str, **values: Any) -> Markup:
    return M('<a href="{}">{}</a>').format(url_for(endpoint, **values), text)


# -- one event -----------------------------------------------------------------------------------------------


class Line:
    """One event as its sentence sees it: its details (`get` marks a key as said), the page's names, the zone."""

    def __init__(self, event: AuditEvent, names: Names, zone: tzinfo) -> None:
        self.event, self.names, self.zone = event, names, zone
        self.details: dict[str, Any] = dict(event.details or {})
        self.said: set[str] = set()

    @property
    def action(self) -> str:
        return self.event.action

    @property
    def resource_id(self) -> int | None:
        return as_id(self.event.resource_id)

    def get(self, key: str, default: Any = None) -> Any:
        self.said.add(key)
        value = self.details.get(key)
        return default if value in EMPTY else value

    def skip(self, *keys: str) -> None:
        """Keys a sentence leaves out on purpose (internal ids, a state the action already says)."""
        self.said.update(keys)

    def rest(self) -> list[tuple[str, str]]:
        return [(key_words(k), value_words(v, self.zone)) for k, v in self.details.items()
                if k not in self.said and v not in EMPTY and value_words(v, self.zone)]

    # objects, linked while they exist

    def process(self, process_id: Any = None, slug: Any = None) -> Markup:
        found = self.names.processes.get(as_id(process_id) or -1)
        if found is None and isinstance(slug, str) and slug in self.names.process_by_slug:
            found = (slug, self.names.process_by_slug[slug][1])
        if found is not None:
            return link(found[1], "processes.detail", slug=found[0])
        return M("{}").format(slug or (f"process #{process_id}" if process_id else "a process"))

    def version(self, version_id: Any, number: Any = None) -> Markup:
        found = self.names.versions.get(as_id(version_id) or -1)
        number = found.number if found else number
        text = f"v{number}" if number is not None else f"version #{version_id}" if version_id else "a version"
        return link(text, "processes.version", version_id=as_id(version_id)) if found else M("{}").format(text)

    def project(self, project_id: Any, recorded_name: Any = None) -> Markup:
        name = self.names.projects.get(as_id(project_id) or -1)
        if name is not None:
            return link(name, "worlds.detail", project_id=as_id(project_id))
        return q(recorded_name) if recorded_name else M("build #{}").format(project_id)

    def room(self, room_id: Any = None, handle: Any = None, recorded_name: Any = None) -> Markup:
        rid = as_id(room_id)
        name = self.names.rooms.get(rid or -1)
        if name is None and isinstance(handle, str) and handle in self.names.room_by_handle:
            rid, name = self.names.room_by_handle[handle]
        if name is not None:
            return link(name, "worlds.room", room_id=rid)
        return q(recorded_name or handle) if (recorded_name or handle) else M("room #{}").format(room_id)

    def campaign(self, campaign_id: Any = None) -> Markup:
        cid = as_id(campaign_id if campaign_id is not None else self.event.resource_id)
        found = self.names.campaigns.get(cid or -1)
        if found is None:
            on = self.get("date")
            return M("the game night of {}").format(day_words(on)) if on else M("game night #{}").format(cid)
        self.skip("date")
        when = day_words(found.day)
        return link(f"the game night of {when}", "gamenight_members.campaign", campaign_id=cid)

    def request(self, request_id: Any = None) -> Markup:
        rid = as_id(request_id if request_id is not None else self.details.get("request_id"))
        self.skip("request_id")
        title = self.get("title")
        found = self.names.requests.get(rid or -1)
        text = M("request #{} {}").format(rid, q(found.title if found else title)) if (found or title) \
            else M("request #{}").format(rid)
        return link(text, "governance.review", request_id=rid) if found else text

    def requester(self, request_id: Any) -> str | None:
        found = self.names.requests.get(as_id(request_id) or -1)
        return self.names.user(found.requested_by_id) if found else None

    def user(self, user_id: Any) -> Markup:
        name = self.names.user(user_id)
        return M("{}").format(name) if name else M("member #{}").format(user_id) if user_id else M("someone")

    def subject(self) -> Markup:
        """What a governance row promotes: the process or the build it was for."""
        self.skip("flow", "state")
        if (pid := self.get("process_id")) is not None:
            return self.process(pid)
        if (bid := self.get("build_project_id")) is not None:
            return self.project(bid)
        return M("")

    def when(self, value: Any) -> str:
        return time_words(value, self.zone)


def describe(event: AuditEvent, names: Names, zone: tzinfo) -> Markup:
    """The event's sentence, then what it recorded beyond that as "key: value" pairs."""
    line = Line(event, names, zone)
    sentence = SENTENCES.get(event.action)
    text = sentence(line) if sentence else M("{}").format(key_words(event.action.replace(".", " ")))
    rest = line.rest()
    if rest:
        pairs = M("; ").join(M("{}: {}").format(k, v) for k, v in rest)
        text = M('{} <span class="audit-extra">{}</span>').format(text, pairs)
    return text


@dataclass(frozen=True)
class Row:
    """One row of the audit page: the event, its time in the workspace's words and its sentence."""

    event: AuditEvent
    when: str  # "Mon 7 Dec, 21:04"
    local_iso: str  # 2026-12-07T21:04:13+01:00, the full time in the zone
    sentence: Markup


def rows(workspace_id: int, events: Sequence[AuditEvent], zone: tzinfo) -> list[Row]:
    """A page of events in plain words, with the names they refer to looked up once for the whole page."""
    names = look_up(workspace_id, events)
    return [Row(e, time_words(e.created_at, zone), e.created_at.astimezone(zone).isoformat(timespec="seconds"),
                describe(e, names, zone)) for e in events]


# -- processes -----------------------------------------------------------------------------------------------


@says("process.created")
def _process_created(line: Line) -> Markup:
    slug, name = line.get("slug"), line.get("name")
    return M("created the process {}").format(line.process(line.resource_id, slug) if slug or line.resource_id
                                              else q(name))


@says("process.archived")
def _process_archived(line: Line) -> Markup:
    text = M("archived the process {}").format(line.process(line.resource_id, line.get("slug")))
    reason = line.get("reason")
    return M("{}: {}").format(text, q(reason)) if reason else text


@says("process.restored")
def _process_restored(line: Line) -> Markup:
    since = line.get("archived_at")
    text = M("restored the process {}").format(line.process(line.resource_id, line.get("slug")))
    return M("{} (archived since {})").format(text, line.when(since)) if since else text


def _version_of(line: Line) -> Markup:
    version = line.version(line.resource_id, line.get("version"))
    found = line.names.versions.get(line.resource_id or -1)
    process = line.process(found.process_id if found else None, line.get("process"))
    return M("{} of {}").format(version, process)


@says("version.created")
def _version_created(line: Line) -> Markup:
    text = M("created {} in the sandbox").format(_version_of(line))
    based_on = line.get("based_on")
    if based_on is not None:
        text = M("{}, based on {}").format(text, line.version(based_on))
    return text


@says("version.updated")
def _version_updated(line: Line) -> Markup:
    return M("edited {}").format(_version_of(line))


@says("version.activated")
def _version_activated(line: Line) -> Markup:
    return M("made {} the active sandbox version").format(_version_of(line))


@says("version.promoted", "version.rolled_back")
def _version_promoted(line: Line) -> Markup:
    found = line.names.versions.get(line.resource_id or -1)
    version = line.version(line.resource_id, line.get("version"))
    source = line.get("from_version")
    source_text = (line.version(found.promoted_from_id, source) if found and found.promoted_from_id
                   else M("v{}").format(source) if source is not None else None)
    copy = M(" (copy of {})").format(source_text) if source_text else M("")
    process = line.process(found.process_id if found else None, line.get("process"))
    verb = "rolled back" if line.action == "version.rolled_back" else "promoted"
    text = M("{} {}{} of {} to production").format(verb, version, copy, process)
    if (replaced := line.get("replaced_version")) is not None:
        text = M("{}, replacing v{}").format(text, replaced)
    if (entries := line.get("cache_entries")) is not None:
        text = M("{}; {}").format(text, f"{plural(entries, 'cache entry', 'cache entries')} cleared" if entries
                                  else "no cache entries to clear")
    if notes := line.get("change_notes"):
        text = M("{}: {}").format(text, q(notes))
    return text


# -- worlds --------------------------------------------------------------------------------------------------


def _build(line: Line) -> Markup:
    return line.project(line.resource_id, line.get("name"))


@says("build.created", "build.imported")
def _build_created(line: Line) -> Markup:
    verb = "imported" if line.action == "build.imported" else "created"
    text = M("{} the build project {}").format(verb, _build(line))
    rooms, exits = line.get("rooms"), line.get("exits")
    if rooms or exits:
        text = M("{} with {} and {}").format(text, plural(rooms, "room"), plural(exits, "exit"))
    return text


@says("build.room_added", "build.room_updated", "build.room_removed")
def _build_room(line: Line) -> Markup:
    verb = {"build.room_added": "added", "build.room_updated": "edited", "build.room_removed": "removed"}
    line.skip("room")
    name = line.get("name") or line.details.get("room")
    where = "to" if line.action == "build.room_added" else "from" if line.action == "build.room_removed" else "in"
    return M("{} the room {} {} {}").format(verb[line.action], q(name), where, line.project(line.resource_id))


@says("build.exit_added")
def _build_exit_added(line: Line) -> Markup:
    return M("added the exit {} from {} to {} in {}").format(
        line.get("direction"), q(line.get("from")), q(line.get("to")), line.project(line.resource_id))


@says("build.exit_removed")
def _build_exit_removed(line: Line) -> Markup:
    return M("removed the exit {} in {}").format(q(line.get("direction")), line.project(line.resource_id))


@says("build.entry_set")
def _build_entry(line: Line) -> Markup:
    return M("made {} the entry room of {}").format(q(line.get("room")), line.project(line.resource_id))


@says("build.submitted", "build.approved", "build.rejected")
def _build_review(line: Line) -> Markup:
    line.skip("from", "to")
    verb = {"build.submitted": "submitted {} for review", "build.approved": "approved the build {}",
            "build.rejected": "rejected the build {}"}[line.action]
    text = M(verb).format(line.project(line.resource_id))
    reason = line.get("reason")
    return M("{}: {}").format(text, q(reason)) if reason else text


@says("build.built")
def _build_built(line: Line) -> Markup:
    line.skip("sandbox_id")
    return M("built the sandbox of {} ({}, {})").format(
        line.project(line.resource_id), plural(line.get("rooms"), "room"), plural(line.get("exits"), "exit"))


@says("build.promoted")
def _build_promoted(line: Line) -> Markup:
    line.skip("project_id", "sandbox_id")
    room = line.room(line.get("connection_room_id"), line.get("connection_room"))
    return M("promoted the area {} ({}) into the live world, connected {} of {}").format(
        line.project(line.resource_id, line.get("name")), plural(line.get("rooms"), "room"),
        line.get("direction") or "to", room)


@says("build.unpromoted")
def _build_unpromoted(line: Line) -> Markup:
    line.skip("project_id", "sandbox_id", "direction", "forced")
    text = M("took the area {} ({}) out of the live world").format(
        line.project(line.resource_id, line.get("name")), plural(line.get("rooms"), "room"))
    room_id, handle = line.get("connection_room_id"), line.get("connection_room")
    if room_id or handle:
        text = M("{}, away from {}").format(text, line.room(room_id, handle))
    if removed := line.get("removed_exits"):
        text = M("{}; removed {}").format(text, plural(len(removed), "exit"))
        line.said.discard("removed_exits")  # and name them below
    if reason := line.get("reason"):
        text = M("{} (forced: {})").format(text, q(reason))
    return text


@says("world.room_added", "world.room_updated", "world.room_removed")
def _world_room(line: Line) -> Markup:
    line.skip("handle")
    room = line.room(line.resource_id, line.details.get("handle"), line.get("name"))
    if line.action == "world.room_added":
        return M("added the room {} to the live world").format(room)
    if line.action == "world.room_removed":
        return M("removed the room {} ({}) from the live world").format(
            q(line.get("name") or line.details.get("handle")), plural(line.get("exits"), "exit"))
    changed = line.get("changed")
    text = M("edited the room {}").format(room)
    return M("{} ({})").format(text, value_words(changed, line.zone)) if changed else text


@says("world.exit_added", "world.exit_removed")
def _world_exit(line: Line) -> Markup:
    direction = line.get("direction")
    source, destination = line.room(None, line.get("from")), line.room(None, line.get("to"))
    if line.action == "world.exit_removed":
        return M("removed the exit {} from {} to {}").format(direction, source, destination)
    text = M("added the exit {} from {} to {}").format(direction, source, destination)
    if aliases := line.get("aliases"):
        text = M("{} (also {})").format(text, ", ".join(aliases) if isinstance(aliases, list) else aliases)
    if line.get("both_ways"):
        text = M("{}, both ways").format(text)
    return text


@says("world.imported")
def _world_imported(line: Line) -> Markup:
    return M("imported {} into the live world: {} and {} ({})").format(
        q(line.get("title")), plural(line.get("rooms"), "room"), plural(line.get("exits"), "exit"),
        str(line.get("format", "json")).upper())


@says("world.settings_updated")
def _world_settings(line: Line) -> Markup:
    text = link("changed the world settings", "world_admin.settings")
    announce = line.get("announce_new_areas")
    text = M("{}: new areas {} announced").format(text, "are" if announce else "are not")
    if channel := line.get("announcement"):
        text = M("{} in {}").format(text, channel)
    return text


# -- governance ----------------------------------------------------------------------------------------------


def _approvers(line: Line, request_id: Any) -> str:
    ids = line.names.approvers.get(as_id(request_id) or -1, [])
    return ", ".join(line.names.user(i) or f"member #{i}" for i in ids if i is not None)


@says("promotion.requested")
def _requested(line: Line) -> Markup:
    text = M("asked for {} of {}").format(line.request(line.resource_id), line.subject())
    if needed := line.get("required_approvals"):
        text = M("{} ({} needed)").format(text, plural(needed, "approval"))
    return text


@says("promotion.approved", "promotion.rejected")
def _reviewed(line: Line) -> Markup:
    line.skip("complete", "required", "approvals")
    verb = "approved" if line.action == "promotion.approved" else "rejected"
    by = line.requester(line.resource_id)
    text = M("{} {}{} of {}").format(verb, M("{}'s ").format(by) if by else "", line.request(line.resource_id),
                                     line.subject())
    if line.action == "promotion.approved" and line.details.get("required"):
        text = M("{} ({} of {} approvals)").format(text, line.details.get("approvals"), line.details["required"])
    if comment := line.get("comment"):
        text = M("{}: {}").format(text, q(comment))
    return text


@says("promotion.applied")
def _applied(line: Line) -> Markup:
    text = M("applied {} of {}").format(line.request(line.resource_id), line.subject())
    if reason := line.get("override_reason"):
        return M("{} without approval: {}").format(text, q(reason))
    if approvers := _approvers(line, line.resource_id):
        text = M("{}, approved by {}").format(text, approvers)
    return text


@says("promotion.stale", "promotion.withdrawn")
def _request_ended(line: Line) -> Markup:
    if line.action == "promotion.withdrawn":
        return M("withdrew {} of {}").format(line.request(line.resource_id), line.subject())
    text = M("{} of {} went stale").format(line.request(line.resource_id), line.subject())
    reason = line.get("reason")
    return M("{}: {}").format(text, reason) if reason else text


SCHEDULE_WORDS = {
    "promotion.scheduled": "scheduled {title} of {subject} for {when}",
    "promotion.schedule_cancelled": "cancelled the scheduled {title} of {subject} (due {when})",
    "promotion.schedule_done": "applied the scheduled {title} of {subject} (due {when})",
    "promotion.schedule_scheduled": "scheduled {title} of {subject} for {when}",
    "promotion.schedule_running": "started the scheduled {title} of {subject} (due {when})",
    "promotion.schedule_stale": "did not apply the scheduled {title} of {subject} (due {when}): it went stale",
    "promotion.schedule_missed": "missed the scheduled {title} of {subject} (due {when})",
    "promotion.schedule_failed": "could not apply the scheduled {title} of {subject} (due {when})",
}


@says(*SCHEDULE_WORDS)
def _scheduled(line: Line) -> Markup:
    line.skip("schedule_id", "preview")  # the fresh preview of a stale one is on its page; its summary is said
    title = line.get("title")
    values = {"title": q(title) if title else "promotion", "subject": line.subject(),
              "when": line.when(line.get("run_at"))}
    text = M(SCHEDULE_WORDS[line.action]).format(**values)
    if (rid := line.get("request_id")) is not None:
        text = M("{}, as approved in {}").format(text, line.request(rid))
    if reason := line.get("reason"):
        text = M("{}: {}").format(text, reason)
    if summary := line.get("summary"):
        text = M("{} ({})").format(text, summary)
    line.skip("code")
    return text


def _policy_subject(line: Line) -> Markup:
    subject = line.event.resource_id or ""
    kind, _, raw = subject.partition(":")
    if kind == "process" and raw:
        return M("the process {}").format(line.process(raw))
    return M("world builds") if subject == "worlds" else M("the workspace")


@says("policy.updated")
def _policy_updated(line: Line) -> Markup:
    needed = line.get("required_approvals", 0)
    text = M("set the approval policy of {}: {}").format(
        _policy_subject(line), plural(needed, "approval") if needed else "no approval needed")
    if needed:
        text = M("{} by {}").format(text, "admins" if line.get("approver_role") == "admin"
                                    else "promoters or admins")
        text = M("{}, {}").format(text, "the requester may approve" if line.get("requester_may_approve")
                                  else "not by the requester")
    line.skip("approver_role", "requester_may_approve")
    return text


@says("policy.cleared")
def _policy_cleared(line: Line) -> Markup:
    return M("removed the approval policy of {}: the workspace's policy applies").format(_policy_subject(line))


# -- game nights ---------------------------------------------------------------------------------------------


@says("campaign.created")
def _campaign_created(line: Line) -> Markup:
    line.skip("statuses")
    text = M("promoted {}").format(line.campaign())
    if start := line.get("start_at"):
        text = M("{} at {}").format(text, line.when(start).split(", ")[-1])
    text = M("{} to {}").format(text, plural(line.get("recipients"), "player"))
    if players := line.get("min_players"):
        text = M("{} (needs {})").format(text, plural(players, "player"))
    if line.get("dry_run"):
        text = M("{} as a dry run").format(text)
    return text


@says("campaign.cancelled", "campaign.called_off")
def _campaign_cancelled(line: Line) -> Markup:
    verb = "called off" if line.action == "campaign.called_off" else "cancelled"
    text = M("{} {}").format(verb, line.campaign())
    if jobs := line.get("jobs_cancelled"):
        text = M("{}; {} stopped").format(text, plural(jobs, "pending message batch", "pending message batches"))
    if (told := line.get("recipients")) is not None:
        text = M("{}; {} told").format(text, plural(told, "player"))
    return text


CAMPAIGN_JOBS = {"reminder": "the reminder", "start": "the start call", "ready_check": "the ready-check",
                 "called_off": "the call-off"}


@says(*(f"campaign.{kind}_done" for kind in CAMPAIGN_JOBS))
def _campaign_job_done(line: Line) -> Markup:
    kind = line.action.removeprefix("campaign.").removesuffix("_done")
    text = M("sent {} of {}").format(CAMPAIGN_JOBS[kind], line.campaign())
    counts = line.get("counts") or {}
    if counts:
        text = M("{}: {}").format(text, ", ".join(f"{n:,} {key_words(k)}" for k, n in counts.items() if n))
    return text


ANSWERS = {"in": "is coming to", "late": "is coming late to", "cant": "can't come to"}


@says("campaign.answered")
def _campaign_answered(line: Line) -> Markup:
    who = line.user(line.get("user_id"))
    answer = line.get("answer")
    if line.get("withdrawn"):
        return M("{} withdrew their answer to {}").format(who, line.campaign())
    words = ANSWERS.get(answer, f"answered {answer} to" if answer else "answered")
    if (minutes := line.get("late_minutes")) and answer == "late":
        words = f"is coming {plural(minutes, 'minute')} late to"
    return M("{} {} {}").format(who, words, line.campaign())


AVAILABILITY = {"available": "available", "maybe": "maybe", "looking": "looking for a game",
                "not_available": "not available"}


@says("availability.set", "availability.cleared")
def _availability(line: Line) -> Markup:
    """The member is the event's resource; the actor may be them, a bot or the seed."""
    on = day_words(line.get("day"))
    member = line.names.user(line.resource_id)
    if line.action == "availability.cleared":
        return M("cleared {} availability for {}").format(M("{}'s").format(member) if member else "the", on)
    status = line.get("status")
    return M("{} {} on {}").format(member or "a member", "is " + AVAILABILITY.get(status, status or "?")
                                   if status != "maybe" else "might come", on)


@says("calendar_feed.created", "calendar_feed.revoked")
def _calendar_feed(line: Line) -> Markup:
    if line.action == "calendar_feed.revoked":
        return M("revoked their calendar feed link")
    return M("created a calendar feed link{}").format(" (the old one stops working)" if line.get("replaced") else "")


@says("player.saved")
def _player_saved(line: Line) -> Markup:
    return M("saved their player profile as {}").format(q(line.get("display_name")))


@says("gamenight.settings_updated")
def _gamenight_settings(line: Line) -> Markup:
    text = link("changed the game-night settings", "gamenight_members.settings")
    parts = [f"games at {line.get('game_start')}" if line.get("game_start") else "",
             f"time zone {line.get('time_zone')}" if line.get("time_zone") else "",
             f"reminder {plural(line.get('lead_minutes'), 'minute')} before" if line.get("lead_minutes") else "",
             f"ready-check {plural(line.get('ready_check_delay'), 'minute')} after the start"
             if line.get("ready_check_delay") else ""]
    return M("{}: {}").format(text, ", ".join(p for p in parts if p))


@says("gamenight.summary_channel_set", "gamenight.summary_channel_cleared")
def _summary_channel(line: Line) -> Markup:
    if line.action.endswith("_cleared"):
        return M("removed the ready-check summary channel")
    return M("sent the ready-check summary to {}").format(line.get("hint") or "a channel")


@says("gamenight.bot_token_rotated")
def _bot_token(line: Line) -> Markup:
    return M("issued a new chat-bot token ({}…)").format(line.get("prefix"))


@says("gamenight.planning_settings_updated")
def _planning_settings(line: Line) -> Markup:
    text = M("changed the planning settings")
    if (threshold := line.get("planning_threshold")) is not None:
        text = M("{}: a planning room opens at {}").format(text, plural(threshold, "ready player"))
    if "announcement" in line.details:
        channel = line.get("announcement")
        text = M("{}; {}").format(text, f"teams are posted to {channel}" if channel else "teams are not posted")
    if "discord_channel_id" in line.details:
        channel = line.get("discord_channel_id")
        text = M("{}; {}").format(text, f"Discord threads in channel {channel}" if channel
                                  else "no Discord threads")
    if "discord_bot" in line.details:
        bot = line.get("discord_bot")
        text = M("{}; {}").format(text, f"Discord bot token {bot}" if bot else "Discord bot token removed")
    return text


def _planning_room(line: Line) -> Markup:
    day = line.get("day")
    text = f"the planning room of {day_words(day)}"
    return link(text, "planning.past", day=day) if day else M(text)


PLANNING_WORDS = {
    "planning.room_created": "opened {room}", "planning.joined": "joined {room}", "planning.left": "left {room}",
    "planning.suggested": "suggested the team name {name} in {room}", "planning.voted": "voted for {name} in {room}",
    "planning.vote_withdrawn": "withdrew their vote for {name} in {room}",
    "planning.teams_saved": "saved the teams of {room}",
    "planning.discord_thread_created": "opened a Discord thread for {room}",
    "planning.discord_teams_posted": "posted the teams of {room} to Discord",
}


@says(*PLANNING_WORDS)
def _planning(line: Line) -> Markup:
    line.skip("thread_id", "channel_id", "threshold")
    member = line.get("user_id")
    name = line.get("name")
    text = M(PLANNING_WORDS[line.action]).format(room=_planning_room(line), name=q(name) if name else "")
    if member is not None:
        text = M("{} {}").format(line.user(member), text)
    if teams := line.get("teams"):
        text = M("{}: {}").format(text, "; ".join(
            f"{t.get('name')}: " + ", ".join(line.names.user(p.get("user_id")) or p.get("name") or "?"
                                             for p in t.get("players", [])) for t in teams))
    if bench := line.get("bench"):
        text = M("{}; on the bench: {}").format(text, ", ".join(p.get("name") or "?" for p in bench))
    if line.action == "planning.room_created" and line.get("ready") is not None:
        text = M("{} ({} of {} ready)").format(text, line.get("ready"), line.details.get("threshold"))
    if rnd := line.get("round"):
        text = M("{} (round {})").format(text, rnd)
    return text


WEEKDAY_WORDS = {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat", "sun": "Sun"}


def _schedule(line: Line) -> Markup:
    sid = line.resource_id
    if sid in line.names.night_schedules:
        return link(f"the game-night schedule #{sid}", "schedules.schedule", schedule_id=sid)
    return M("the game-night schedule #{}").format(sid)


@says("schedule.created")
def _schedule_created(line: Line) -> Markup:
    line.skip("statuses", "hours_ahead")
    days = ", ".join(WEEKDAY_WORDS.get(str(d).lower()[:3], str(d)) for d in line.get("weekdays") or [])
    text = M("created {}: {} at {}").format(_schedule(line), days or "no days", line.get("start_time"))
    if lead := line.get("lead_minutes"):
        text = M("{}, reminder {} before").format(text, plural(lead, "minute"))
    if ready := line.get("min_ready"):
        text = M("{}, when {} are ready").format(text, plural(ready, "player"))
    line.skip("min_players")
    if nights := line.get("nights"):
        text = M("{}; {} planned").format(text, plural(nights, "night"))
    return text


@says("schedule.deleted", "schedule.paused", "schedule.resumed")
def _schedule_changed(line: Line) -> Markup:
    verb = {"schedule.deleted": "deleted", "schedule.paused": "paused", "schedule.resumed": "resumed"}[line.action]
    text = M("{} {}").format(verb, _schedule(line))
    if dropped := line.get("pending_nights_dropped"):
        text = M("{}; {} dropped").format(text, plural(dropped, "planned night"))
    if kept := line.get("campaigns_kept"):
        text = M("{}; {} kept").format(text, plural(kept, "game night"))
    if added := line.get("nights_added"):
        text = M("{}; {} planned").format(text, plural(added, "night"))
    return text


NIGHT_WORDS = {"pending": "planned", "created": "promoted", "skipped": "skipped", "too_few": "dropped (too few ready)",
               "missed": "missed (no worker ran in time)", "refused": "could not promote"}


@says(*(f"schedule.night_{status}" for status in NIGHT_WORDS))
def _schedule_night(line: Line) -> Markup:
    status = line.action.removeprefix("schedule.night_")
    on = day_words(line.get("date"))
    cid = line.get("campaign_id")
    night = line.campaign(cid) if cid is not None else M("the night of {}").format(on)
    text = M("{} {} of {}").format(NIGHT_WORDS[status], night, _schedule(line))
    if line.get("called_off"):
        text = M("{} and called it off").format(text)
    if detail := line.get("detail"):
        text = M("{}: {}").format(text, detail)
    return text


# -- accounts, contacts, tokens, webhooks, jobs -------------------------------------------------------------


@says("auth.login")
def _login(line: Line) -> Markup:
    via = line.get("via")
    return M("signed in{}").format(f" with {str(via).capitalize()}" if via else "")


@says("auth.login_failed")
def _login_failed(line: Line) -> Markup:
    return M("failed to sign in as {}").format(line.get("email") or "an unknown account")


@says("account.signed_out_everywhere")
def _signed_out(line: Line) -> Markup:
    email = line.get("email")
    return M("signed {} out on every device").format(email) if email else M("signed out on every device")


@says("account.password_changed")
def _password(line: Line) -> Markup:
    return M("changed their password")


@says("account.deleted")
def _account_deleted(line: Line) -> Markup:
    return M("deleted their account")


@says("operator.granted", "operator.revoked")
def _operator(line: Line) -> Markup:
    email = line.get("email") or line.user(line.resource_id)
    if line.action == "operator.granted":
        return M("made {} an operator of this installation").format(email)
    return M("removed {} from the operators of this installation").format(email)


@says("key.created", "key.revoked", "token.created", "token.revoked")
def _token(line: Line) -> Markup:
    kind, _, verb = line.action.partition(".")
    environment = line.get("environment")
    what = f"the {environment} key" if kind == "key" and environment else "the key" if kind == "key" \
        else "the personal token"
    page = "accounts.keys" if kind == "key" else "accounts.tokens"
    return M("{} {} {}").format(verb, link(what, page), q(line.get("name")))


CHANNELS = {"email": "e-mail", "discord": "Discord", "telegram": "Telegram", "signal": "Signal"}


@says("contact.linked", "contact.unlinked", "contact.email_requested")
def _contact(line: Line) -> Markup:
    channel = CHANNELS.get(line.get("channel"), line.get("channel") or "a chat")
    line.skip("via")
    if line.action == "contact.email_requested":
        return M("asked for a link to confirm their e-mail address")
    if line.action == "contact.unlinked":
        return M("unlinked their {} contact").format(channel)
    member = line.get("user_id")
    text = M("linked {} {} contact").format(M("{}'s").format(line.user(member)) if member else "their", channel)
    if line.get("replaced"):
        text = M("{} (replacing the old one)").format(text)
    return text


@says("preferences.updated")
def _preferences(line: Line) -> Markup:
    text = M("{} game-night messages").format("opted in to" if line.get("opted_in") else "opted out of")
    if order := line.get("channel_order"):
        text = M("{}, by {}").format(text, ", then ".join(CHANNELS.get(c, c) for c in order))
    if quiet := line.get("quiet_hours"):
        text = M("{}; quiet hours {}").format(text, quiet)
    return text


def _webhook(line: Line) -> Markup:
    wid = line.resource_id
    hint = line.names.webhooks.get(wid or -1) or line.get("url")
    line.skip("url")
    text = M("the webhook {}").format(hint) if hint else M("webhook #{}").format(wid)
    return link(text, "webhooks.endpoint", endpoint_id=wid) if wid in line.names.webhooks else text


@says("webhook.created", "webhook.events_changed", "webhook.secret_rotated", "webhook.test_sent", "webhook.disabled")
def _webhook_event(line: Line) -> Markup:
    hook = _webhook(line)
    events = line.get("events")
    if line.action == "webhook.created":
        text = M("added {}").format(hook)
    elif line.action == "webhook.events_changed":
        text = M("changed the events of {}").format(hook)
    elif line.action == "webhook.secret_rotated":
        hours = line.get("overlap_hours")
        text = M("rotated the secret of {}").format(hook)
        if hours:
            text = M("{}; the old one signs for {} more").format(text, plural(hours, "hour"))
    elif line.action == "webhook.test_sent":
        text = M("sent a test event to {}").format(hook)
    else:
        text = M("disabled {}").format(hook)
    if events:
        text = M("{} for {}").format(text, ", ".join(events) if isinstance(events, list) else events)
    return text


@says("job.retried")
def _job_retried(line: Line) -> Markup:
    kind = line.get("kind")
    return M("retried the failed {} #{}").format(link(f"{kind} job" if kind else "job", "outbox.jobs"),
                                                 line.resource_id)


