"""Game nights: who is a player, and how their chat identities are linked.

A member is **linked** when they have a player profile and at least one confirmed contact; only linked
members set availability. Bots act with the workspace's bot token: they confirm link codes and name the
chat identities they see (`ChatIdentity`). The contact rules themselves (one member per identity, one
identity per channel, sealed delivery targets) are webapp/notify/contacts.py's.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field
from sqlalchemy import Exists, bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import User
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Text, bad_request, invalid, parse
from webapp.errors import NotFound, TooManyRequests
from webapp.extensions import db, utcnow
from webapp.gamenight.models import LinkCode, PlayerProfile
from webapp.notify import contacts
from webapp.notify.models import CHAT_CHANNELS, Channel, Contact
from webapp.sealing import hash_token

LINK_CODE_TTL = timedelta(minutes=10)
LINK_CODE_WINDOW = timedelta(hours=1)
MAX_OPEN_LINK_CODES = 5
MAX_LINK_CODES_PER_HOUR = 10
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen, typed into a chat
MAX_ALIASES = 20


# -- typed fields -------------------------------------------------------------------------------


def _display_name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 80 or "\n" in name:
        raise invalid("is required: a player needs a display name of 1 to 80 characters on one line")
    return name


def _aliases(value: Any) -> Any:
    """A comma-separated text (the form) or a list of names; each name may hold commas-separated names too."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise invalid("is a list of names, or a comma-separated text")
    names: list[str] = []
    for alias in (a.strip() for text in value for a in text.split(",")):
        if alias and alias.casefold() not in (n.casefold() for n in names):
            if len(alias) > 60:
                raise invalid("has names of at most 60 characters each")
            names.append(alias)
    return names[:MAX_ALIASES]


def _chat_channel(value: Any) -> Channel:
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in {c.value for c in CHAT_CHANNELS}:
        raise bad_request(f"is one of {', '.join(c.value for c in CHAT_CHANNELS)}")
    return Channel(name)


def _external_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
        raise bad_request("is the member's id on the channel (1 to 200 characters)")
    return value.strip()


def _link_code(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise bad_request("is the code the member sent to the bot")
    return value


DisplayName = Annotated[str, BeforeValidator(_display_name), Field(min_length=1, max_length=80)]
Aliases = Annotated[list[str], BeforeValidator(_aliases), Field(max_length=MAX_ALIASES)]
ChatChannel = Annotated[Channel, BeforeValidator(_chat_channel),
                        Field(json_schema_extra={"enum": [c.value for c in CHAT_CHANNELS]})]
ExternalId = Annotated[str, BeforeValidator(_external_id), Field(min_length=1, max_length=200)]


class PlayerCommand(Command):
    """The member's player: a display name, and game aliases (None keeps the current ones)."""

    display_name: DisplayName = Field("", validate_default=True)
    aliases: Aliases | None = None


def _requires(*names: str) -> Any:
    """For the OpenAPI document: fields that have a default only so that a missing one gets the field's own
    message ("'code' is the code the member sent to the bot.") are required all the same."""
    def extra(schema: dict[str, Any]) -> None:
        schema["required"] = [*schema.get("required", []), *names]

    return extra


class ChatIdentity(Command):
    """A chat identity a bot names: the channel and the member's id there."""

    model_config = ConfigDict(json_schema_extra=_requires("channel", "external_id"))

    channel: ChatChannel = Field("", validate_default=True)
    external_id: ExternalId = Field("", validate_default=True)

    @classmethod
    def of(cls, channel: Any, external_id: Any) -> ChatIdentity:
        """The identity from loose values (a query string, a body read by hand); 400 naming the field."""
        return parse(cls, {"channel": channel, "external_id": external_id})


class LinkConfirmCommand(ChatIdentity):
    """A bot confirms a link code it was sent, optionally with the delivery target for that identity."""

    model_config = ConfigDict(json_schema_extra=_requires("channel", "external_id", "code"))

    code: Annotated[str, BeforeValidator(_link_code), Field(min_length=1, max_length=100)] = Field(
        "", validate_default=True)
    target: Text | None = None


# -- players ------------------------------------------------------------------------------------


def profile(workspace_id: int, user_id: int) -> PlayerProfile | None:
    return db.session.scalar(select(PlayerProfile).where(PlayerProfile.workspace_id == workspace_id,
                                                         PlayerProfile.user_id == user_id))


def save_profile(actor: Actor, player: PlayerCommand) -> PlayerProfile:
    """Create or update the member's one player profile."""
    saved = put_profile(actor, player)
    db.session.commit()
    return saved


def put_profile(actor: Actor, player: PlayerCommand) -> PlayerProfile:
    """`save_profile` in the caller's transaction (no commit)."""
    assert actor.user_id is not None
    found = profile(actor.workspace_id, actor.user_id)
    if found is None:
        found = PlayerProfile(workspace_id=actor.workspace_id, user_id=actor.user_id, aliases=[])
        db.session.add(found)
    found.display_name = player.display_name
    if player.aliases is not None:
        found.aliases = list(player.aliases)
    audit.record(actor, "player.saved", "user", actor.user_id, {"display_name": player.display_name})
    return found


def linked_clause(workspace_id: Any, user_id: Any) -> Exists:
    """Whether a member is linked (a player profile and a confirmed contact), as part of a larger query."""
    return (select(Contact.id).join(PlayerProfile, (PlayerProfile.workspace_id == Contact.workspace_id)
                                    & (PlayerProfile.user_id == Contact.user_id))
            .where(Contact.workspace_id == workspace_id, Contact.user_id == user_id, Contact.confirmed_at.is_not(None))
            .exists())


_LINKED = select(linked_clause(bindparam("workspace_id"), bindparam("user_id")))


def is_linked(workspace_id: int, user_id: int | None) -> bool:
    """A player profile and at least one confirmed contact (one query, built once: the layout asks on every
    page)."""
    if user_id is None:
        return False
    return bool(db.session.scalar(_LINKED, {"workspace_id": workspace_id, "user_id": user_id}))


def shown_name(display_name: str | None, email: str) -> str:
    """How a member is named to others: their player's display name, else their e-mail's local part."""
    return display_name or email.split("@")[0]


def player_names(workspace_id: int, user_ids: Iterable[int]) -> dict[int, str]:
    """`shown_name` of each of `user_ids` in the workspace."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.email, PlayerProfile.display_name).outerjoin(
        PlayerProfile, (PlayerProfile.user_id == User.id) & (PlayerProfile.workspace_id == workspace_id))
        .where(User.id.in_(ids)))
    return {user_id: shown_name(name, email) for user_id, email, name in rows}


# -- linking through the bots -------------------------------------------------------------------


def new_link_code(actor: Actor) -> tuple[str, datetime]:
    """A code for the member to send to one of the community's bots; valid 10 minutes, once. A member holds
    at most MAX_OPEN_LINK_CODES unused ones (a code per bot, and a spare) and gets MAX_LINK_CODES_PER_HOUR an
    hour; past either, 429 with the wait as `Retry-After`. Codes older than the hour are deleted here."""
    assert actor.user_id is not None
    now = utcnow()
    hour_ago = now - LINK_CODE_WINDOW
    mine = (LinkCode.workspace_id == actor.workspace_id, LinkCode.user_id == actor.user_id)
    # One member's codes are counted and written one request at a time (a row lock on PostgreSQL; SQLite
    # writes one transaction at a time anyway).
    db.session.execute(select(User.id).where(User.id == actor.user_id).with_for_update())
    recent = db.session.execute(select(LinkCode.created_at, LinkCode.expires_at, LinkCode.used_at)
                                .where(*mine, LinkCode.created_at > hour_ago)).all()
    open_until = sorted(expires for _, expires, used in recent if used is None and expires > now)
    if len(open_until) >= MAX_OPEN_LINK_CODES:
        wait = open_until[0] - now
        raise TooManyRequests(f"You have {MAX_OPEN_LINK_CODES} unused link codes: send one to the bot, or get a new "
                              f"one in {_wait_text(wait)}, when the oldest expires.", retry_after=wait.total_seconds(),
                              code="link_codes_open")
    if len(recent) >= MAX_LINK_CODES_PER_HOUR:
        wait = min(created for created, _, _ in recent) + LINK_CODE_WINDOW - now
        raise TooManyRequests(f"That is {MAX_LINK_CODES_PER_HOUR} link codes in an hour; get the next one in "
                              f"{_wait_text(wait)}.", retry_after=wait.total_seconds(), code="link_codes_hourly")
    db.session.execute(delete(LinkCode).where(*mine, LinkCode.created_at <= hour_ago))
    code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(8))
    expires = now + LINK_CODE_TTL
    db.session.add(LinkCode(workspace_id=actor.workspace_id, user_id=actor.user_id, code_hash=_code_hash(code),
                            expires_at=expires))
    db.session.commit()
    return code, expires


def _wait_text(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def _code_hash(code: str) -> str:
    return hash_token(code.strip().upper().replace("-", "").replace(" ", ""))


def confirm_link(workspace_id: int, command: LinkConfirmCommand) -> Contact:
    """A bot confirms that the chat identity (channel, external id) sent this member's code.

    404 for an unknown, used or expired code; 409 when the identity is already linked to another
    member (or the member already has another identity on that channel: unlink it first)."""
    now = utcnow()
    link = db.session.scalar(select(LinkCode).where(LinkCode.workspace_id == workspace_id,
                                                    LinkCode.code_hash == _code_hash(command.code)).with_for_update())
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise NotFound("This link code is unknown, used or expired; ask the member for a new one from their "
                       "profile page.", code="link_code_invalid")
    contact, _ = contacts.attach_identity(workspace_id, link.user_id, command.channel, command.external_id, now=now)
    if command.target is not None:
        contacts.set_target(contact, command.target)
    link.used_at = now
    audit.record(None, "contact.linked", "contact", None, {"channel": command.channel.value, "user_id": link.user_id},
                 workspace_id=workspace_id, actor_label="bot")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise contacts.identity_taken_meanwhile(command.channel) from None
    return contact


def member_for_identity(workspace_id: int, identity: ChatIdentity) -> int:
    """The member a bot's chat identity is linked to; 404 with a hint to link otherwise."""
    user_id = contacts.confirmed_owner(workspace_id, identity.channel, identity.external_id)
    if user_id is None:
        raise NotFound(f"This {identity.channel.value} account is not linked to a member yet: open your profile page "
                       "on the dashboard, get a link code and send it to the bot.", code="not_linked")
    return user_id
