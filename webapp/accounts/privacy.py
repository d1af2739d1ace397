"""A member's own data: "Download my data" (everything about them, nothing about anyone else) and
"Delete my account" (their rows removed, shared history kept under a pseudonym).

Every table that points at `users.id` is named once, either as removed (the member's own rows, deleted) or
as kept (shared rows that stay, with the reference set to NULL): the platform's tables below, each flow's in
the `PrivacyHook` it registers (webapp/<flow>/privacy.py, registered by create_app — this module never
imports a flow). The deletes are issued here rather than left to the foreign keys' ON DELETE: SQLite does
not enforce them unless asked, and a test checks that no reference to `users.id` is left out.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from webapp.accounts.models import ApiToken, LoginFailure, Membership, Role, TokenKind, User, Workspace
from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.errors import BadRequest, Conflict, NotFound
from webapp.extensions import db, utcnow
from webapp.notify.models import Contact, Delivery, Preference
from webapp.webhooks.models import WebhookEndpoint

EXPORT_FORMAT = "promotion-desk/member-data"
EXPORT_VERSION = 1

Column = InstrumentedAttribute[Any]


@dataclass(frozen=True)
class PrivacyHook:
    """What one flow holds about a member.

    `removed`: columns of the member's own rows, deleted with the account (before the platform's).
    `kept`: columns of shared rows that outlive the account; only the reference goes.
    `export(user_id, workspace_id)`: the flow's sections of one workspace in "Download my data".
    `delivery_sources`: for a delivery ledger `source_type` the flow writes, a function from source ids to
    what each delivery's export says about its source (e.g. a campaign job's kind and campaign)."""

    name: str
    removed: tuple[Column, ...] = ()
    kept: tuple[Column, ...] = ()
    export: Callable[[int, int], dict[str, Any]] | None = None
    delivery_sources: dict[str, Callable[[Sequence[int]], dict[int, dict[str, Any]]]] | None = None


_hooks: dict[str, PrivacyHook] = {}


def register(hook: PrivacyHook) -> None:
    """Add (or replace, by name: create_app runs more than once in a process) a flow's hook."""
    _hooks[hook.name] = hook


# The platform's own rows: deleted with the account (after the flows').
REMOVED: tuple[Column, ...] = (Contact.user_id, Preference.user_id, ApiToken.user_id, Membership.user_id)
# The platform's shared rows that outlive the account: only the reference to it goes (the audit rows are
# pseudonymised first, while `actor_id` still finds them).
KEPT: tuple[Column, ...] = (AuditEvent.actor_id, Delivery.user_id, ApiToken.created_by_id,
                            WebhookEndpoint.created_by_id)
# Keys that name a member in audit details: in an entry with their `user_id`, or in an event about them.
NAMED_BY = frozenset({"user_id", "name", "display_name"})
AUDIT_BATCH = 500


def removed_columns() -> tuple[Column, ...]:
    """Every column whose rows go with the account, the flows' first (their rows may point at the platform's)."""
    return tuple(c for hook in _hooks.values() for c in hook.removed) + REMOVED


def kept_columns() -> tuple[Column, ...]:
    """Every column of shared rows that only lose the reference to the account."""
    return KEPT + tuple(c for hook in _hooks.values() for c in hook.kept)


def iso(value: datetime | date | None) -> str | None:
    """A date or time as ISO 8601 text, None as None: how every export section writes them."""
    return value.isoformat() if value is not None else None


def pseudonym(user_id: int) -> str:
    """A stable, non-reversible label for a deleted member: the same user id gives the same label, so
    their audit history still reads as one person's without saying who."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"deleted-member:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"deleted-member-{digest[:8]}"


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    return user


# -- download my data ---------------------------------------------------------------------------


def export(user_id: int) -> dict[str, Any]:
    """Everything the desk holds about one member, across all their workspaces, as plain JSON values.

    Only the member's own rows: never a teammate, another voter, another recipient, a sealed delivery
    target, a token hash, or an audit event's `details` (which may name other members)."""
    user = _user(user_id)
    memberships = db.session.execute(
        select(Membership, Workspace).join(Workspace, Workspace.id == Membership.workspace_id)
        .where(Membership.user_id == user_id).order_by(Workspace.name)).all()
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_VERSION,
        "exported_at": utcnow().isoformat(),
        "account": {"email": user.email, "created_at": iso(user.created_at)},
        "workspaces": [_workspace_data(user, m, ws) for m, ws in memberships],
    }


def _workspace_data(user: User, membership: Membership, ws: Workspace) -> dict[str, Any]:
    uid, wid = user.id, ws.id
    pref = db.session.get(Preference, (wid, uid))
    data: dict[str, Any] = {
        "name": ws.name,
        "slug": ws.slug,
        "role": membership.role.name,
        "member_since": iso(membership.created_at),
        "contacts": [
            {"channel": c.channel.value, "external_id": c.external_id, "target": c.target_hint or None,
             "confirmed_at": iso(c.confirmed_at), "created_at": iso(c.created_at)}
            for c in db.session.scalars(select(Contact).where(Contact.workspace_id == wid, Contact.user_id == uid)
                                        .order_by(Contact.channel))],
        "preferences": None if pref is None else {
            "opted_in": pref.opted_in, "channel_order": list(pref.channel_order or []),
            "quiet_hours": pref.quiet_hours, "updated_at": iso(pref.updated_at)},
    }
    for hook in _hooks.values():
        if hook.export is not None:
            data.update(hook.export(uid, wid))
    data["deliveries"] = _deliveries(uid, wid)
    data["api_tokens"] = [  # never the hash
        {"name": t.name, "prefix": t.prefix, "created_at": iso(t.created_at),
         "last_used_at": iso(t.last_used_at), "revoked_at": iso(t.revoked_at)}
        for t in db.session.scalars(select(ApiToken).where(ApiToken.workspace_id == wid,
                                                           ApiToken.kind == TokenKind.personal,
                                                           ApiToken.user_id == uid)
                                    .order_by(ApiToken.created_at, ApiToken.id))]
    data["audit_events"] = [  # where they acted; without `details`, which may name other members
        {"action": e.action, "resource_type": e.resource_type,
         "resource_id": None if e.resource_type == "user" and e.resource_id != str(uid) else e.resource_id,
         "created_at": iso(e.created_at)}
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == wid, _acted_by(user))
                                    .order_by(AuditEvent.created_at, AuditEvent.id))]
    return data


def _deliveries(uid: int, wid: int) -> list[dict[str, Any]]:
    """The ledger rows addressed to the member, with what the flow that sent them says of their source; never
    a target or the provider's answer."""
    rows = list(db.session.scalars(select(Delivery).where(Delivery.workspace_id == wid, Delivery.user_id == uid)
                                   .order_by(Delivery.claimed_at, Delivery.id)))
    describers = {source: describe for hook in _hooks.values() for source, describe in
                  (hook.delivery_sources or {}).items()}
    sources: dict[str, dict[int, dict[str, Any]]] = {}
    for source_type in {d.source_type for d in rows}:
        if source_type in describers:
            sources[source_type] = describers[source_type](
                sorted({d.source_id for d in rows if d.source_type == source_type}))
    return [{"source": d.source_type, **sources.get(d.source_type, {}).get(d.source_id, {}),
             "status": d.status.value, "channel": d.channel, "attempts": d.attempts,
             "claimed_at": iso(d.claimed_at), "finished_at": iso(d.finished_at)} for d in rows]


def _acted_by(user: User) -> Any:
    """Audit rows the member acted in: as a signed-in user, or recorded under their e-mail (a page click
    on availability, a failed sign-in to their account)."""
    return or_(AuditEvent.actor_id == user.id, func.lower(AuditEvent.actor_label) == user.email.lower())


# -- delete my account --------------------------------------------------------------------------


def delete_account(user_id: int, confirm_email: Any) -> str:
    """Delete the member's account and their rows in every workspace, in one transaction; returns the
    pseudonym their audit history now carries.

    The typed e-mail must be theirs (400). The last admin of a workspace that has other members must
    hand the admin role over first (409). Nothing is written when either check fails."""
    user = _user(user_id)
    typed = confirm_email.strip().lower() if isinstance(confirm_email, str) else ""
    if not typed or not hmac.compare_digest(typed.encode(), user.email.lower().encode()):
        raise BadRequest("Type your e-mail address exactly as shown to confirm the deletion; nothing was deleted.",
                         code="confirmation_mismatch")
    workspaces = _check_admin_handover(user)
    label = pseudonym(user.id)
    _pseudonymise_audit(user, label, [ws.id for ws in workspaces])
    for column in removed_columns():
        db.session.execute(delete(column.class_).where(column == user.id))
    for column in kept_columns():
        db.session.execute(update(column.class_).where(column == user.id).values({column.key: None}))
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == user.email.lower()))
    db.session.execute(delete(User).where(User.id == user.id))
    for ws in workspaces:
        audit.record(None, "account.deleted", "user", label, workspace_id=ws.id, actor_label=label).ip = None
    db.session.commit()
    return label


def _check_admin_handover(user: User) -> list[Workspace]:
    """The member's workspaces; 409 if they are the only admin of one where others remain. The member
    rows of those workspaces are locked (PostgreSQL), so two admins cannot both leave at once."""
    rows = db.session.execute(
        select(Membership.user_id, Membership.workspace_id, Membership.role)
        .where(Membership.workspace_id.in_(select(Membership.workspace_id).where(Membership.user_id == user.id)))
        .order_by(Membership.id).with_for_update()).all()
    workspaces = _workspaces_of(user.id)
    stuck = []
    for ws in workspaces:
        others = [r for r in rows if r.workspace_id == ws.id and r.user_id != user.id]
        mine = next(r for r in rows if r.workspace_id == ws.id and r.user_id == user.id)
        if mine.role is Role.admin and others and not any(r.role is Role.admin for r in others):
            stuck.append(ws.name)
    if stuck:
        raise Conflict(f"You are the only admin of {', '.join(stuck)}: make another member an admin there before "
                       "deleting your account; nothing was deleted.", code="last_admin")
    return workspaces


def _workspaces_of(user_id: int) -> list[Workspace]:
    return list(db.session.scalars(select(Workspace).join(Membership, Membership.workspace_id == Workspace.id)
                                   .where(Membership.user_id == user_id).order_by(Workspace.id)))


def _pseudonymise_audit(user: User, label: str, workspace_ids: list[int]) -> None:
    """Keep the audit trail, but without the member in it: the actor label, a `user` resource id, and
    details naming them (their user id, their e-mail, a `{"user_id", "name"}` entry such as a saved team's
    player, their own `player.saved` name) become the pseudonym; the IP address of what they did is dropped.
    Other members' rows are matched by id, never by a name the two might share."""
    email = user.email.lower()
    mine = (AuditEvent.resource_type == "user") & (AuditEvent.resource_id == str(user.id))
    mentions = or_(func.lower(cast(AuditEvent.details, Text)).contains(email),
                   cast(AuditEvent.details, Text).contains(str(user.id)))
    ids = db.session.scalars(select(AuditEvent.id).where(
        or_(_acted_by(user), mine, AuditEvent.workspace_id.in_(workspace_ids) & mentions))
        .order_by(AuditEvent.id)).all()
    for batch in _chunks(ids, AUDIT_BATCH):
        for event in db.session.scalars(select(AuditEvent).where(AuditEvent.id.in_(batch))):
            if event.actor_id == user.id or event.actor_label.lower() == email:
                event.actor_label, event.ip = label, None
            about_them = event.resource_type == "user" and event.resource_id == str(user.id)
            if about_them:
                event.resource_id = label
            details = _scrub(event.details or {}, None, user.id, email, label, about_them)
            if details != event.details:
                event.details = details  # a new object: the JSON column sees the change
        db.session.flush()


def _is_them(value: Any, user_id: int) -> bool:
    return not isinstance(value, bool) and value in (user_id, str(user_id))


def _scrub(value: Any, key: str | None, user_id: int, email: str, label: str, about_them: bool) -> Any:
    """`value` (an audit event's details) with every mention of the member replaced by `label`."""
    if isinstance(value, dict):
        if _is_them(value.get("user_id"), user_id):  # an entry about them: its name goes too
            return {k: label if k in NAMED_BY else _scrub(v, k, user_id, email, label, about_them)
                    for k, v in value.items()}
        return {k: _scrub(v, k, user_id, email, label, about_them) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, key, user_id, email, label, about_them) for v in value]
    if key == "user_id" and _is_them(value, user_id):
        return label
    if isinstance(value, str) and (value.lower() == email or (about_them and key in NAMED_BY)):
        return label
    return value


def _chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
