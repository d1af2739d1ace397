"""Who may read which caught message, named as the workspace names its members, and the demo logins that exist.

The file holds only what arrived (`store`); the database says whose each target is: a member's contact, or the
workspace's summary or planning-room channel (targets stay sealed there and are unsealed here, never shown)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from webapp.accounts.models import Membership, Role, User, Workspace
from webapp.accounts.services import Actor
from webapp.demo import DEMO_PASSWORD, DEMO_WORKSPACE
from webapp.demo import demo_logins as all_demo_logins
from webapp.devinbox.store import CaughtMessage, read_newest_first
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.gamenight.models import GamenightSettings
from webapp.gamenight.players import player_names
from webapp.notify.models import Contact
from webapp.sealing import unseal

SHOWN_AT_MOST = 500  # the newest; the file keeps everything


@dataclass(frozen=True)
class Recipient:
    key: str  # what `?to=` names: "member-<user id>", "summary", "planning", or the target's path
    label: str
    user_id: int | None = None


@dataclass(frozen=True)
class InboxEntry:
    message: CaughtMessage
    recipient: Recipient


@dataclass(frozen=True)
class Inbox:
    entries: list[InboxEntry]  # newest first, filtered
    recipients: list[tuple[Recipient, int]]  # everyone the reader may see a message to, with how many
    chosen: Recipient | None
    sees_all: bool


def _recipients_by_target(workspace_id: int) -> dict[str, Recipient]:
    contacts = db.session.execute(select(Contact.user_id, Contact.target_sealed).where(
        Contact.workspace_id == workspace_id, Contact.target_sealed.is_not(None))).all()
    names = player_names(workspace_id, {user_id for user_id, _ in contacts})
    known = {unseal(sealed): Recipient(f"member-{user_id}", names.get(user_id, f"member {user_id}"), user_id)
             for user_id, sealed in contacts}
    channels = db.session.get(GamenightSettings, workspace_id)
    if channels is not None:
        for sealed, recipient in ((channels.summary_target_sealed, Recipient("summary", "summary channel")),
                                  (channels.planning_post_target_sealed, Recipient("planning", "planning-room channel"))):
            if sealed:
                known.setdefault(unseal(sealed), recipient)
    return known


def _unknown(message: CaughtMessage) -> Recipient:
    path = "/" + message.target.split("://", 1)[-1].partition("/")[2]
    return Recipient(path, f"{path} (no contact of this workspace)")


def read_inbox(actor: Actor, is_operator: bool, inbox_path: Path, to: str | None = None) -> Inbox:
    """The messages the demo inbox caught that `actor` may read, newest first: all of them for the workspace's
    admins and the installation's operators, a member's own otherwise; only those to `to` (a recipient's key) when
    given. An unknown `to` is NotFound."""
    sees_all = is_operator or actor.can(Role.admin)
    known = _recipients_by_target(actor.workspace_id)
    visible = []
    for message in read_newest_first(inbox_path):
        recipient = known.get(message.target) or _unknown(message)
        if sees_all or recipient.user_id == actor.user_id:
            visible.append(InboxEntry(message, recipient))
    counts: dict[Recipient, int] = {}
    for entry in visible:
        counts[entry.recipient] = counts.get(entry.recipient, 0) + 1
    chosen = None
    if to:
        chosen = next((r for r in counts if r.key == to), None)
        if chosen is None:
            raise NotFound("Nobody by that name has a message in the demo inbox you may read.")
        visible = [entry for entry in visible if entry.recipient == chosen]
    return Inbox(visible[:SHOWN_AT_MOST], sorted(counts.items(), key=lambda item: item[0].label.lower()), chosen,
                 sees_all)


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, e-mail, password) of each demo account (webapp/demo.py) that is a member of the demo workspace,
    admin first; none when there is no demo workspace."""
    logins = all_demo_logins()
    present = set(db.session.scalars(select(User.email).join(Membership, Membership.user_id == User.id)
                                     .join(Workspace, Workspace.id == Membership.workspace_id)
                                     .where(Workspace.name == DEMO_WORKSPACE,
                                            User.email.in_([email for _, email in logins]))))
    return [(role, email, DEMO_PASSWORD) for role, email in logins if email in present]
