"""Contacts: every rule about how a member is reached, written once.

A contact is one chat identity or mailbox of a member in a workspace: (channel, external id), confirmed
when the member proved it (a bot's link code, Discord's OAuth, a signed e-mail link), with an optional
delivery target (an Apprise URL, stored sealed, shown only as a masked hint). One identity belongs to
at most one member of a workspace, and a member has at most one identity per channel (the schema's unique
constraints back both). Flows (game nights) call these functions; nothing else writes a `Contact` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from webapp.accounts.services import EMAIL_RE, Actor
from webapp.audit import services as audit
from webapp.commands import Command, Text
from webapp.errors import BadRequest, Conflict, NotFound
from webapp.extensions import db, utcnow
from webapp.notify import delivery
from webapp.notify.models import Channel, Contact
from webapp.outbox import services as outbox
from webapp.outbox.models import OutboxEffect
from webapp.sealing import seal

APPRISE_SCHEMES = {Channel.discord: ("discord",), Channel.telegram: ("tgram",), Channel.signal: ("signal", "signals"),
                   Channel.email: ("mailto", "mailtos")}
TEST_SCHEMES = ("json", "jsons")  # a JSON webhook stands in for any channel (tests, self-hosted relays)
CHANNEL_SCHEMES = tuple(s for schemes in APPRISE_SCHEMES.values() for s in schemes) + TEST_SCHEMES
MAX_URL_LENGTH = 2000


# -- Apprise URLs: delivery targets and workspace channels ----------------------------------------


def url_scheme(url: str) -> str:
    """The scheme of an Apprise URL (`tgram` of `tgram://…`), lower-cased; "" when `url` is not one: no
    `://`, longer than 2,000 characters, or with whitespace inside."""
    if "://" not in url or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        return ""
    return url.split("://", 1)[0].lower()


def mask(url: str) -> str:
    """What a page may show of a target: its scheme and the last four characters."""
    scheme = urlsplit(url).scheme or "?"
    tail = url.rstrip("/")[-4:]
    return f"{scheme}://…{tail}"


def check_target(channel: Channel, url: str) -> str:
    """An Apprise URL for `channel` (or a json:// relay); 400 otherwise. Never echoes the URL back."""
    url = url.strip()
    scheme = url_scheme(url)
    if not scheme:
        raise BadRequest("The delivery target must be an Apprise URL such as tgram://… or json://….")
    if scheme not in APPRISE_SCHEMES[channel] + TEST_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in APPRISE_SCHEMES[channel] + TEST_SCHEMES)
        raise BadRequest(f"A {channel.value} contact's target starts with {allowed}")
    return url


def set_target(contact: Contact, url: str) -> None:
    """Give the contact its delivery target: checked for its channel, stored sealed, shown masked."""
    url = check_target(contact.channel, url)
    contact.target_sealed = seal(url)
    contact.target_hint = mask(url)


def seal_channel(url: str) -> tuple[str | None, str]:
    """A workspace channel's Apprise URL (any channel's scheme) → (sealed, masked hint); empty → (None, "");
    anything else → 400."""
    url = url.strip()
    if not url:
        return None, ""
    if url_scheme(url) not in CHANNEL_SCHEMES:
        raise BadRequest("A channel is an Apprise URL starting with "
                         f"{', '.join(s + '://' for s in CHANNEL_SCHEMES)}.")
    return seal(url), mask(url)


# -- identities: one member per identity, one identity per channel ---------------------------------


def contacts(workspace_id: int, user_id: int) -> Sequence[Contact]:
    return db.session.scalars(select(Contact).where(Contact.workspace_id == workspace_id,
                                                    Contact.user_id == user_id).order_by(Contact.channel)).all()


def contact_on(workspace_id: int, user_id: int, channel: Channel) -> Contact | None:
    """The member's contact on `channel` (confirmed or not), or None."""
    return db.session.scalar(select(Contact).where(Contact.workspace_id == workspace_id, Contact.user_id == user_id,
                                                   Contact.channel == channel))


def identity_owner(workspace_id: int, channel: Channel, external_id: str) -> int | None:
    """The member of the workspace who has this identity (confirmed or not), or None."""
    return db.session.scalar(select(Contact.user_id).where(
        Contact.workspace_id == workspace_id, Contact.channel == channel, Contact.external_id == external_id))


def confirmed_owner(workspace_id: int, channel: Channel, external_id: str) -> int | None:
    """The member whose confirmed contact is this identity, or None."""
    return db.session.scalar(select(Contact.user_id).where(
        Contact.workspace_id == workspace_id, Contact.channel == channel, Contact.external_id == external_id,
        Contact.confirmed_at.is_not(None)))


def identity_taken(channel: Channel) -> Conflict:
    return Conflict(f"This {channel.value} account is already linked to another member of this workspace. They "
                    "must unlink it on their profile page first; nothing was changed.", code="identity_taken")


def identity_taken_meanwhile(channel: Channel) -> Conflict:
    """A lost race on the unique constraint: another member linked the identity at the same moment."""
    return Conflict(f"This {channel.value} account was linked to another member at the same moment; nothing was "
                    "changed.", code="identity_taken")


def check_not_taken(workspace_id: int, user_id: int, channel: Channel, external_id: str) -> None:
    """409 `identity_taken` when the identity belongs to another member of the workspace."""
    owner = identity_owner(workspace_id, channel, external_id)
    if owner is not None and owner != user_id:
        raise identity_taken(channel)


def attach_identity(workspace_id: int, user_id: int, channel: Channel, external_id: str, *, replace: bool = False,
                    proven: bool = False, now: datetime | None = None) -> tuple[Contact, str | None]:
    """Give a member the identity (channel, external id), confirmed now, in the caller's transaction.

    A bot's link code and Discord's OAuth both come here, so the 1:1 rules are written once: 409
    `identity_taken` when another member of the workspace has the identity; when the member has another
    identity on that channel, 409 `channel_taken` — or, with `replace`, that contact takes the new identity
    (its delivery target belonged to the old account and is cleared). `proven`: the channel itself vouched
    for the identity (OAuth), so the contact may sign its member in. Returns the contact and the external
    id it replaced, if any."""
    owner = db.session.scalar(select(Contact).where(Contact.workspace_id == workspace_id, Contact.channel == channel,
                                                    Contact.external_id == external_id))
    if owner is not None and owner.user_id != user_id:
        raise identity_taken(channel)
    contact = owner or contact_on(workspace_id, user_id, channel)
    replaced = None
    if contact is not None and contact.external_id != external_id:
        if not replace:
            raise Conflict(f"This member already has another {channel.value} account linked; they must unlink it "
                           "on their profile page first.", code="channel_taken")
        replaced = contact.external_id
        contact.external_id, contact.target_sealed, contact.target_hint = external_id, None, ""
        contact.oauth_verified_at = None  # proven for the old account, not this one
    if contact is None:
        contact = Contact(workspace_id=workspace_id, user_id=user_id, channel=channel, external_id=external_id)
        db.session.add(contact)
    contact.confirmed_at = now or utcnow()
    if proven:
        contact.oauth_verified_at = contact.confirmed_at
    return contact, replaced


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

EMAIL_LINK_MAX_AGE = 2 * 24 * 3600  # seconds
MAX_ADDRESS_LENGTH = 200  # what a contact's external id holds
NOT_IN_MAIL_URL = frozenset("?&,")  # the address becomes the `to=` of the server's mail URL: one recipient, no query


def email_address(text: str) -> str:
    """An address a contact can be mailed at: an e-mail address as accounts read one (`EMAIL_RE`, the one rule),
    that fits a contact and names one recipient in the mail URL; 400 `invalid_email` otherwise."""
    address = text.strip()
    if not EMAIL_RE.match(address) or len(address) > MAX_ADDRESS_LENGTH or NOT_IN_MAIL_URL & set(address):
        raise BadRequest("Enter an e-mail address such as jana@example.com.", code="invalid_email")
    return address


class EmailCommand(Command):
    """A member adds an e-mail address to be reached at (checked by `email_address`: 400 `invalid_email`)."""

    email: Text = ""


def _email_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="email-contact")


def _mail_url(address: str) -> str:
    base = current_app.config["SETTINGS"].MAIL_URL.strip()
    return base + ("&" if "?" in base else "?") + urlencode({"to": address})


def request_email(actor: Actor, address: str) -> Contact:
    """A member adds an e-mail address: pending until they open the signed link we mail to it.
    409 when mail is not set up on this server, the address is another member's, or they have one already."""
    assert actor.user_id is not None
    if not current_app.config["SETTINGS"].MAIL_URL.strip():
        raise Conflict("E-mail is not set up on this server (MAIL_URL); link a chat account instead.",
                       code="mail_not_configured")
    address = email_address(address)
    mine = contact_on(actor.workspace_id, actor.user_id, Channel.email)
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
    contact = db.session.get(Contact, effect.payload["contact_id"])
    if contact is None or contact.confirmed_at is not None or contact.channel is not Channel.email:
        return {"skipped": "confirmed or removed meanwhile"}
    token = _email_signer().dumps({"c": contact.id, "a": contact.external_id})
    link = current_app.config["SETTINGS"].PUBLIC_URL.rstrip("/") + f"/contacts/email/confirm/{token}"
    outcome, answer = delivery.send(_mail_url(contact.external_id), "Confirm your e-mail for game nights",
                                    f"Open this link to receive game-night messages at this address:\n{link}\n\n"
                                    "It works for two days. If you did not ask for it, ignore this message.",
                                    f"contact:{contact.id}:confirm")
    outbox.raise_unless_sent(outcome, "the mail server", answer)
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
