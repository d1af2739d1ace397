"""Contacts and preferences: the rules for who may be told what, and how to reach them.

Quiet hours are `HH:MM-HH:MM` in the workspace's time zone; a range may wrap midnight (22:00-08:00).
The start is inside, the end is not: with 22:00-08:00, 22:00 and 07:59 are quiet, 08:00 is not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import BadRequest, NotFound
from webapp.extensions import db
from webapp.notify.models import Channel, Contact, Preference
from webapp.sealing import seal

QUIET_HOURS_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
QUIET_HOURS_FORMAT = "Quiet hours must look like HH:MM-HH:MM in 24-hour time, e.g. 22:00-08:00."
APPRISE_SCHEMES = {Channel.discord: ("discord",), Channel.telegram: ("tgram",), Channel.signal: ("signal", "signals"),
                   Channel.email: ("mailto", "mailtos")}
TEST_SCHEMES = ("json", "jsons")  # a JSON webhook stands in for any channel (tests, self-hosted relays)
SUMMARY_SCHEMES = tuple(s for schemes in APPRISE_SCHEMES.values() for s in schemes) + TEST_SCHEMES


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """`"22:00-08:00"` → (22:00, 08:00); empty → None; anything else → 400 naming the format."""
    text = (text or "").strip()
    if not text:
        return None
    match = QUIET_HOURS_RE.fullmatch(text)
    if not match:
        raise BadRequest(QUIET_HOURS_FORMAT, code="invalid_quiet_hours")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise BadRequest(f"{QUIET_HOURS_FORMAT} Start and end must differ.", code="invalid_quiet_hours")
    return start, end


def in_quiet_hours(quiet: str | None, local: time) -> bool:
    """Whether the local clock time `local` falls in `quiet` (start inclusive, end exclusive)."""
    parsed = parse_quiet_hours(quiet)
    if parsed is None:
        return False
    start, end = parsed
    local = local.replace(second=0, microsecond=0, tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end  # wraps midnight


def preference(workspace_id: int, user_id: int) -> Preference:
    """The member's preferences (defaults, not yet saved, when they never set any: opted out)."""
    found = db.session.get(Preference, (workspace_id, user_id))
    return found or Preference(workspace_id=workspace_id, user_id=user_id, opted_in=False, channel_order=[],
                               quiet_hours=None)


def _channel_order(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise BadRequest("The channel order is a list of channels.")
    order: list[str] = []
    for name in (c.strip().lower() for c in raw if c.strip()):
        if name not in Channel.__members__:
            raise BadRequest(f"{name!r} is not a channel; use {', '.join(Channel)}.")
        if name not in order:
            order.append(name)
    return order


def update_preferences(actor: Actor, opted_in: bool, channel_order: Any, quiet_hours: str | None) -> Preference:
    """Save the signed-in member's own preferences; a bad quiet-hours value is a 400 and saves nothing."""
    assert actor.user_id is not None
    parse_quiet_hours(quiet_hours)
    order = _channel_order(channel_order)
    pref = db.session.get(Preference, (actor.workspace_id, actor.user_id))
    if pref is None:
        pref = Preference(workspace_id=actor.workspace_id, user_id=actor.user_id)
        db.session.add(pref)
    pref.opted_in = bool(opted_in)
    pref.channel_order = order
    pref.quiet_hours = (quiet_hours or "").strip() or None
    audit.record(actor, "preferences.updated", "user", actor.user_id,
                 {"opted_in": pref.opted_in, "channel_order": order, "quiet_hours": pref.quiet_hours})
    db.session.commit()
    return pref


# -- contacts -----------------------------------------------------------------------------------


def check_target(channel: Channel, url: str) -> str:
    """An Apprise URL for `channel` (or a json:// relay); 400 otherwise. Never echoes the URL back."""
    url = (url or "").strip()
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if not scheme or len(url) > 2000 or any(c.isspace() for c in url):
        raise BadRequest("The delivery target must be an Apprise URL such as tgram://… or json://….")
    if scheme not in APPRISE_SCHEMES[channel] + TEST_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in APPRISE_SCHEMES[channel] + TEST_SCHEMES)
        raise BadRequest(f"A {channel.value} contact's target starts with {allowed}")
    return url


def mask(url: str) -> str:
    """What a page may show of a target: its scheme and the last four characters."""
    scheme = urlsplit(url).scheme or "?"
    tail = url.rstrip("/")[-4:]
    return f"{scheme}://…{tail}"


def set_target(contact: Contact, url: str) -> None:
    url = check_target(contact.channel, url)
    contact.target_sealed = seal(url)
    contact.target_hint = mask(url)


def contacts(workspace_id: int, user_id: int) -> Sequence[Contact]:
    return db.session.scalars(select(Contact).where(Contact.workspace_id == workspace_id,
                                                    Contact.user_id == user_id).order_by(Contact.channel)).all()


def unlink(actor: Actor, contact_id: int) -> Contact:
    """A member removes one of their own contacts (it can be linked again with a new code)."""
    contact = db.session.scalar(select(Contact).where(Contact.id == contact_id,
                                                      Contact.workspace_id == actor.workspace_id,
                                                      Contact.user_id == actor.user_id))
    if contact is None:
        raise NotFound("No such contact of yours in this workspace.")
    db.session.delete(contact)
    audit.record(actor, "contact.unlinked", "contact", contact.id, {"channel": contact.channel.value})
    db.session.commit()
    return contact
