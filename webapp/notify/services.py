"""Contacts and preferences: the rules for who may be told what, and how to reach them.

Quiet hours are `HH:MM-HH:MM` in the workspace's time zone; a range may wrap midnight (22:00-08:00).
The start is inside, the end is not: with 22:00-08:00, 22:00 and 07:59 are quiet, 08:00 is not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.errors import BadRequest, Conflict, NotFound, OutcomeUnknown
from webapp.extensions import db, utcnow
from webapp.notify.models import Channel, Contact, Preference
from webapp.outbox import services as outbox
from webapp.outbox.models import OutboxEffect
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


# -- e-mail contacts: confirmed through a signed link ----------------------------------------------

EMAIL_RE = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
EMAIL_LINK_MAX_AGE = 2 * 24 * 3600  # seconds


def _email_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="email-contact")


def _mail_url(address: str) -> str:
    base = current_app.config["SETTINGS"].MAIL_URL.strip()
    return base + ("&" if "?" in base else "?") + urlencode({"to": address})


def request_email(actor: Actor, address: Any) -> Contact:
    """A member adds an e-mail address: pending until they open the signed link we mail to it.
    409 when mail is not set up on this server, the address is another member's, or they have one already."""
    assert actor.user_id is not None
    if not current_app.config["SETTINGS"].MAIL_URL.strip():
        raise Conflict("E-mail is not set up on this server (MAIL_URL); link a chat account instead.",
                       code="mail_not_configured")
    address = address.strip() if isinstance(address, str) else ""
    if not EMAIL_RE.fullmatch(address) or "?" in address or "&" in address:
        raise BadRequest("Enter an e-mail address such as jana@example.com.", code="invalid_email")
    mine = db.session.scalar(select(Contact).where(Contact.workspace_id == actor.workspace_id,
                                                   Contact.user_id == actor.user_id, Contact.channel == Channel.email))
    owner = db.session.scalar(select(Contact.user_id).where(Contact.workspace_id == actor.workspace_id,
                                                            Contact.channel == Channel.email,
                                                            func.lower(Contact.external_id) == address.lower()))
    if owner is not None and owner != actor.user_id:
        raise Conflict("This e-mail address belongs to another member.", code="identity_taken")
    if mine is not None and mine.confirmed_at is not None:
        raise Conflict("You have a confirmed e-mail contact; unlink it first to use another address.",
                       code="channel_taken")
    if mine is None:
        mine = Contact(workspace_id=actor.workspace_id, user_id=actor.user_id, channel=Channel.email)
        db.session.add(mine)
    mine.external_id, mine.target_sealed, mine.target_hint = address, None, ""
    db.session.flush()
    outbox.add(actor.workspace_id, "notify.email_confirmation", {"contact_id": mine.id})
    audit.record(actor, "contact.email_requested", "contact", mine.id, {"channel": "email"})
    db.session.commit()
    return mine


@outbox.handler("notify.email_confirmation", outside=True)
def send_email_confirmation(effect: OutboxEffect) -> dict[str, Any]:
    """Mail the signed link to a pending address (the effect carries the contact's id only). A mail server that
    provably did not take it is tried again; one that may have (no reply after the message) is not."""
    from webapp.notify import delivery
    from webapp.notify.transport import Outcome

    contact = db.session.get(Contact, effect.payload["contact_id"])
    if contact is None or contact.confirmed_at is not None or contact.channel is not Channel.email:
        return {"skipped": "confirmed or removed meanwhile"}
    token = _email_signer().dumps({"c": contact.id, "a": contact.external_id})
    link = current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + f"/contacts/email/confirm/{token}"
    outcome, answer = delivery.send(_mail_url(contact.external_id), "Confirm your e-mail for game nights",
                                    f"Open this link to receive game-night messages at this address:\n{link}\n\n"
                                    "It works for two days. If you did not ask for it, ignore this message.",
                                    f"contact:{contact.id}:confirm")
    if outcome is Outcome.ambiguous:
        raise OutcomeUnknown(f"the confirmation e-mail: {answer}")
    if outcome is not Outcome.sent:
        raise RuntimeError(f"the confirmation e-mail was not accepted: {answer}")
    return {"sent": True}


def email_contact_for(token: str) -> Contact:
    """The pending contact a signed link names; 404 for a bad, expired or already used link."""
    try:
        data = _email_signer().loads(token, max_age=EMAIL_LINK_MAX_AGE)
        contact_id, address = int(data["c"]), str(data["a"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("This confirmation link is not valid or has expired; add the address again on your "
                       "profile page.", code="link_invalid") from None
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.channel is not Channel.email or contact.external_id != address:
        raise NotFound("This confirmation link is not valid any more; add the address again on your profile page.",
                       code="link_invalid")
    return contact


def confirm_email(token: str) -> Contact:
    """Whoever opens the link proves they read that mailbox: the contact is confirmed (once is enough)."""
    contact = email_contact_for(token)
    if contact.confirmed_at is None:
        url = _mail_url(contact.external_id)
        contact.target_sealed, contact.target_hint = seal(url), mask_email(contact.external_id)
        contact.confirmed_at = utcnow()
        audit.record(None, "contact.linked", "contact", contact.id, {"channel": "email", "user_id": contact.user_id},
                     workspace_id=contact.workspace_id, actor_label="e-mail link")
        db.session.commit()
    return contact


def mask_email(address: str) -> str:
    name, _, domain = address.partition("@")
    return f"mailto://{name[:1]}…@{domain}"
