"""A planning room's Discord thread, opened by the workspace's bot (its token and a channel id are planning
settings): a starter message in the channel with the room's link, a public thread started from that message and
named after the night, and later the saved teams posted in the thread. Two outbox effects do it, each step
recorded on the room's `PlanningThread` row, which the room shows.

Why a thread started *from a message* (`POST /channels/{channel}/messages/{message}/threads`) and not one
without a message (`POST /channels/{channel}/threads`, type 11): the second start of a thread on the same message
is refused with error 160004 ("a thread has already been created for this message") and the thread's id is the
message's, so starting it again after a lost answer can never make a second thread. A thread without a message has
no such guard: after a 5xx or a timeout we could not know whether it exists.

The messages carry a nonce with `enforce_nonce` (Discord returns the earlier message instead of making a second one
with the same nonce "in the past few minutes"), so a 5xx is retried while its first attempt is less than
NONCE_WINDOW old; later, and after a timeout once the request went out, the post is `unknown` and never sent again
(DESIGN.md rule 12). A 429 is retried after its `retry_after` (the JSON body's, else the `Retry-After` header); a
401, 403 or 404 will not get better and fails at once, with Discord's reason on the row.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import metadata
from typing import Any, NoReturn

import requests
from flask import current_app
from sqlalchemy import select, update

from webapp.audit import services as audit
from webapp.errors import OutcomeUnknown
from webapp.extensions import db, utcnow
from webapp.gamenight import availability, night_settings, players
from webapp.gamenight.models import PlanningMember, PlanningRoom, PlanningTeam, PlanningThread, ThreadStatus
from webapp.notify import transport
from webapp.outbox import services as outbox
from webapp.outbox.models import EffectStatus, OutboxEffect
from webapp.sealing import unseal

THREAD_EFFECT = "gamenight.discord_thread"
TEAMS_EFFECT = "gamenight.discord_teams"
NAME_MAX, CONTENT_MAX = 100, 2000  # Discord's limits: a thread's name, a message's content
AUTO_ARCHIVE_MINUTES = 1440  # the thread archives itself a day after its last message
NONCE_WINDOW = timedelta(minutes=2)  # Discord checks a nonce "in the past few minutes": we count on two
THREAD_EXISTS = 160004  # Discord's error code: a thread has already been created for this message
DEFAULT_RETRY_AFTER = 1.0
_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]])")


# -- what the room opens and shows ------------------------------------------------------------------


def bot_configured(workspace_id: int) -> bool:
    game = night_settings.settings(workspace_id)
    return bool(game.discord_bot_token_sealed and game.discord_channel_id)


def night_name(day: date, game_start: str) -> str:
    """The thread's name: `Game night · Thursday 3 December · 21:00` (at most 100 characters)."""
    return f"Game night · {day:%A} {day.day} {day:%B} · {game_start}"[:NAME_MAX]


def open_for(room: PlanningRoom) -> bool:
    """In the transaction that opens `room`: when the workspace has a bot and a channel, the thread's row and the
    effect that makes it (after commit). Whether it did."""
    game = night_settings.settings(room.workspace_id)
    if not (game.discord_bot_token_sealed and game.discord_channel_id):
        return False
    thread = PlanningThread(room_id=room.id, channel_id=game.discord_channel_id,
                            name=night_name(room.day, game.game_start), nonce=secrets.token_hex(6),
                            status=ThreadStatus.pending, error="", teams_round=0, teams_error="")
    db.session.add(thread)
    thread.effect_id = _add_effect(room.workspace_id, THREAD_EFFECT, room.id)
    return True


def _add_effect(workspace_id: int, kind: str, room_id: int) -> int:
    effect = outbox.add(workspace_id, kind, {"room_id": room_id})
    db.session.flush()
    return effect.id


def _post_teams_later(room: PlanningRoom, thread: PlanningThread) -> None:
    thread.teams_status, thread.teams_error = ThreadStatus.pending, ""
    thread.teams_effect_id = _add_effect(room.workspace_id, TEAMS_EFFECT, room.id)


def teams_saved(room: PlanningRoom) -> None:
    """In the transaction that saves the teams: post them in the thread after commit. While the thread is still
    being made its effect posts them when it is done (so nothing waits on attempts here)."""
    thread = db.session.get(PlanningThread, room.id)
    if thread is not None and thread.status is ThreadStatus.created:
        _post_teams_later(room, thread)


def thread_url(thread: PlanningThread) -> str | None:
    """The thread in Discord's web and desktop app (needs the server's id, which the thread's answer names)."""
    if thread.thread_id is None or thread.guild_id is None:
        return None
    base = current_app.config["SETTINGS"].DISCORD_BASE_URL.rstrip("/")
    return f"{base}/channels/{thread.guild_id}/{thread.thread_id}"


def as_json(thread: PlanningThread | None) -> dict[str, Any] | None:
    if thread is None:
        return None
    return {"status": thread.status.value, "url": thread_url(thread), "error": thread.error or None,
            "teams": None if thread.teams_status is None else {"status": thread.teams_status.value,
                                                                "error": thread.teams_error or None}}


# -- Discord's REST API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One call's answer: its status (None: no answer), its JSON, whether the request went out, and for a 429
    when to come back."""

    status: int | None
    body: Any
    written: bool
    retry_after: float | None = None
    failure: str = ""  # the exception's type name when there was no answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def code(self) -> int | None:
        """Discord's JSON error code (e.g. 50013 missing permissions)."""
        return self.body.get("code") if isinstance(self.body, dict) else None

    def describe(self) -> str:
        """For the row and the log: Discord's status and message, never a token or a URL."""
        if self.status is None:
            return (f"no answer after the request was sent ({self.failure})" if self.written
                    else f"Discord was not reached ({self.failure})")
        message = self.body.get("message") if isinstance(self.body, dict) else None
        text = f"Discord answered {self.status}" + (" without the JSON it documents" if self.ok else "")
        if isinstance(message, str) and message:
            text += f": {message[:160]}"
        if self.code is not None:
            text += f" (code {self.code})"
        if self.retry_after is not None:
            text += f"; retry after {self.retry_after:g}s"
        return text


def _user_agent() -> str:
    """Discord asks for `DiscordBot ($url, $versionNumber)`."""
    try:
        version = metadata.version("promotion-desk")
    except metadata.PackageNotFoundError:
        version = "0.1.0"
    return f"DiscordBot ({current_app.config['SETTINGS'].PUBLIC_URL.rstrip('/')}, {version})"


def _retry_after(response: requests.Response, body: Any) -> float:
    for value in (body.get("retry_after") if isinstance(body, dict) else None, response.headers.get("Retry-After")):
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return seconds
    return DEFAULT_RETRY_AFTER


def call(token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
    """One request to Discord's REST API as the bot (`Authorization: Bot <token>`), JSON in and out. Never raises
    for the network: whether the request went out is read from the wire (`webapp.notify.transport`)."""
    settings = current_app.config["SETTINGS"]
    headers = {"Authorization": f"Bot {token}", "User-Agent": _user_agent(), "Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode("utf-8")
    timeout = settings.DISCORD_API_TIMEOUT_SECONDS
    with transport.watch() as seen:
        try:
            response = requests.request(method, settings.DISCORD_API_URL.rstrip("/") + path, data=data,
                                        headers=headers, timeout=(timeout, timeout), allow_redirects=False)
        except requests.RequestException as exc:
            return Answer(None, None, any(e.written for e in seen.exchanges), failure=type(exc).__name__)
    try:
        answer_body = response.json()
    except ValueError:
        answer_body = None
    retry_after = _retry_after(response, answer_body) if response.status_code == 429 else None
    return Answer(response.status_code, answer_body, True, retry_after)


# -- how one step settles ---------------------------------------------------------------------------


def _settle(effect: OutboxEffect, answer: Answer, record: Callable[[ThreadStatus, str], None], what: str, *,
            repeatable: bool) -> NoReturn:
    """Write a refused or unanswered call on the row, commit, and tell the outbox what to do with the effect:
    retry after a back-off (or a 429's `retry_after`), give up now (a 4xx), or mark it `unknown` (it may have
    arrived and must not be repeated; `repeatable` says Discord would drop a repeat, so it is retried instead)."""
    reason = answer.describe()[:300]
    last = effect.attempts >= effect.max_attempts
    retry_state = ThreadStatus.failed if last else ThreadStatus.retrying
    if answer.status == 429:
        record(retry_state, reason)
        db.session.commit()
        raise outbox.RetryLater(f"{what}: {reason}", timedelta(seconds=answer.retry_after or DEFAULT_RETRY_AFTER))
    # No answer after sending, a 5xx, or a 2xx we cannot read (it was made; we do not know its id).
    may_have_arrived = answer.written and (answer.status is None or answer.status >= 500 or answer.ok)
    if may_have_arrived and not repeatable:
        record(ThreadStatus.unknown, reason)
        db.session.commit()
        raise OutcomeUnknown(f"{what}: {reason}")
    if answer.status is not None and 400 <= answer.status < 500:
        record(ThreadStatus.failed, reason)
        db.session.commit()
        raise outbox.GiveUp(f"{what}: {reason}")
    record(retry_state, reason)
    db.session.commit()
    raise RuntimeError(f"{what}: {reason}")


def _within_nonce_window(first_try: datetime | None) -> bool:
    return first_try is not None and utcnow() - first_try <= NONCE_WINDOW


def _token(workspace_id: int) -> str | None:
    sealed = night_settings.settings(workspace_id).discord_bot_token_sealed
    return unseal(sealed) if sealed else None


def _room_link(room: PlanningRoom) -> str:
    """The room of that day (today's is live; later the same address shows it read-only)."""
    return f"{current_app.config['SETTINGS'].PUBLIC_URL.rstrip('/')}/planning/{room.day.isoformat()}"


def _escape(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def _fit(text: str) -> str:
    return text if len(text) <= CONTENT_MAX else text[:CONTENT_MAX - 1] + "…"


def _message(content: str, nonce: str) -> dict[str, Any]:
    # Names come from members: no @everyone, role or member pings, whatever they typed.
    return {"content": _fit(content), "nonce": nonce, "enforce_nonce": True, "allowed_mentions": {"parse": []}}


# -- the thread ---------------------------------------------------------------------------------------


@outbox.handler(THREAD_EFFECT, outside=True)
def open_thread(effect: OutboxEffect) -> dict[str, Any]:
    """Post the starter message, start the thread from it, learn its server; each step once, on the row. When
    the teams were saved meanwhile, their post follows."""
    room = db.session.get(PlanningRoom, effect.payload["room_id"])
    thread = db.session.get(PlanningThread, effect.payload["room_id"])
    if room is None or thread is None or thread.status in (ThreadStatus.created, ThreadStatus.unknown):
        return {"skipped": "room gone or thread done"}
    def record(status: ThreadStatus, error: str) -> None:
        thread.status, thread.error = status, error

    token = _token_or_failed(room, record)
    if token is None:
        return {"skipped": "no bot"}

    if thread.message_id is None:
        if thread.message_tried_at is None:
            thread.message_tried_at = utcnow()
            db.session.commit()
        ws = night_settings.workspace(room.workspace_id)
        ready = availability.ready(ws.id, room.day)
        answer = call(token, "POST", f"/channels/{thread.channel_id}/messages", _message(
            f"**{_escape(thread.name)}** · {_escape(ws.name)}\nThe planning room is open: {ready} players are "
            f"ready. Join it, suggest team names and vote: {_room_link(room)}", f"{thread.nonce}s"))
        if not answer.ok or not isinstance(answer.body, dict) or not isinstance(answer.body.get("id"), str):
            _settle(effect, answer, record, "the thread's first message",
                    repeatable=_within_nonce_window(thread.message_tried_at) and answer.status is not None
                    and not answer.ok)
        thread.message_id = answer.body["id"]
        db.session.commit()
    if thread.thread_id is None:
        # Idempotent at Discord: a second start on this message is refused with THREAD_EXISTS.
        answer = call(token, "POST", f"/channels/{thread.channel_id}/messages/{thread.message_id}/threads",
                      {"name": thread.name, "auto_archive_duration": AUTO_ARCHIVE_MINUTES})
        if answer.ok and isinstance(answer.body, dict) and isinstance(answer.body.get("id"), str):
            thread.thread_id, thread.guild_id = answer.body["id"], answer.body.get("guild_id")
        elif answer.status == 400 and answer.code == THREAD_EXISTS:
            thread.thread_id = thread.message_id  # a thread started from a message has the message's id
        else:
            _settle(effect, answer, record, "starting the thread", repeatable=True)
        db.session.commit()
    if thread.guild_id is None:
        answer = call(token, "GET", f"/channels/{thread.thread_id}")
        if not answer.ok or not isinstance(answer.body, dict) or not isinstance(answer.body.get("guild_id"), str):
            _settle(effect, answer, record, "reading the thread", repeatable=True)  # a read: always repeatable
        thread.guild_id = answer.body["guild_id"]
    thread.status, thread.error = ThreadStatus.created, ""
    audit.record(None, "planning.discord_thread_created", "planning_room", room.id,
                 {"day": room.day.isoformat(), "thread_id": thread.thread_id, "channel_id": thread.channel_id},
                 workspace_id=room.workspace_id, actor_label="discord bot")
    if room.teams_saved_at is not None and thread.teams_posted_for != room.teams_saved_at:
        _post_teams_later(room, thread)
    db.session.commit()
    return {"thread_id": thread.thread_id}


# -- a worker lost mid-call ----------------------------------------------------------------------------

LOST = "its worker was lost while it was talking to Discord; not sent again, so nobody sees it twice"


@outbox.reconciler
def settle_lost_calls() -> dict[str, int]:
    """The outbox turns an effect whose worker vanished mid-call `unknown` (never run again); the room's row,
    which only a run writes, says so too."""
    lost = select(OutboxEffect.id).where(OutboxEffect.status == EffectStatus.unknown)
    waiting = (ThreadStatus.pending, ThreadStatus.retrying)
    threads = db.session.execute(
        update(PlanningThread).where(PlanningThread.status.in_(waiting), PlanningThread.effect_id.in_(lost))
        .values(status=ThreadStatus.unknown, error=LOST)).rowcount
    teams = db.session.execute(
        update(PlanningThread).where(PlanningThread.teams_status.in_(waiting), PlanningThread.teams_effect_id.in_(lost))
        .values(teams_status=ThreadStatus.unknown, teams_error=LOST)).rowcount
    db.session.commit()
    return {"discord_threads_lost": threads + teams}


# -- the teams ----------------------------------------------------------------------------------------


def teams_text(room: PlanningRoom, thread: PlanningThread) -> str:
    """The saved teams as a Discord message: one line per team, then the bench, then the room's link."""
    rows = db.session.execute(select(PlanningMember.user_id, PlanningMember.team_id)
                              .where(PlanningMember.room_id == room.id)).all()
    names = players.player_names(room.workspace_id, [user_id for user_id, _ in rows])
    teams = db.session.scalars(select(PlanningTeam).where(PlanningTeam.room_id == room.id)
                               .order_by(PlanningTeam.position)).all()

    def listed(team_id: int | None) -> str:
        found = sorted(names[user_id] for user_id, in_team in rows if in_team == team_id)
        return ", ".join(_escape(name) for name in found) or "nobody yet"

    lines = [f"**Teams for {_escape(thread.name)}**"]
    lines += [f"**{_escape(team.name)}**: {listed(team.id)}" for team in teams]
    if any(team_id is None for _, team_id in rows):
        lines.append(f"Bench: {listed(None)}")
    lines.append(_room_link(room))
    return "\n".join(lines)


def _token_or_failed(room: PlanningRoom, record: Callable[[ThreadStatus, str], None]) -> str | None:
    """The workspace's bot token; without one (the bot was removed meanwhile) the step is recorded failed."""
    token = _token(room.workspace_id)
    if token is None:
        record(ThreadStatus.failed, "the Discord bot was removed from the settings")
        db.session.commit()
    return token


@outbox.handler(TEAMS_EFFECT, outside=True)
def post_teams(effect: OutboxEffect) -> dict[str, Any]:
    """Post the latest saved teams in the thread, once per save (a save seen while an older post ran makes a new
    round; the same save is never posted twice)."""
    room = db.session.get(PlanningRoom, effect.payload["room_id"])
    thread = db.session.get(PlanningThread, effect.payload["room_id"])
    if room is None or thread is None or thread.status is not ThreadStatus.created or thread.thread_id is None:
        return {"skipped": "no thread yet (its effect posts the teams when it is done)"}
    if thread.teams_effect_id not in (None, effect.id):  # two saves' effects never post side by side
        return {"skipped": "a later save's effect posts the teams"}
    saved_at = room.teams_saved_at
    if saved_at is None or thread.teams_posted_for == saved_at:
        return {"skipped": "posted already"}
    if thread.teams_for != saved_at:
        thread.teams_for, thread.teams_round, thread.teams_tried_at = saved_at, thread.teams_round + 1, utcnow()
        db.session.commit()
    elif thread.teams_status is ThreadStatus.unknown:
        return {"skipped": "this save's post may have arrived; not posted again"}
    def record(status: ThreadStatus, error: str) -> None:
        thread.teams_status, thread.teams_error = status, error

    token = _token_or_failed(room, record)
    if token is None:
        return {"skipped": "no bot"}

    answer = call(token, "POST", f"/channels/{thread.thread_id}/messages",
                  _message(teams_text(room, thread), f"{thread.nonce}t{thread.teams_round}"))
    if not answer.ok:
        _settle(effect, answer, record, "the teams' post",
                repeatable=_within_nonce_window(thread.teams_tried_at) and answer.status is not None)
    thread.teams_posted_for, thread.teams_status, thread.teams_error = saved_at, ThreadStatus.sent, ""
    audit.record(None, "planning.discord_teams_posted", "planning_room", room.id,
                 {"day": room.day.isoformat(), "thread_id": thread.thread_id, "round": thread.teams_round},
                 workspace_id=room.workspace_id, actor_label="discord bot")
    db.session.commit()
    return {"round": thread.teams_round}
