"""A member's own data: "Download my data" (everything about them, nothing about anyone else) and
"Delete my account" (their rows removed, shared history kept under a pseudonym).

Every table that points at `users.id` is named once below, either in `REMOVED` (the member's own rows,
deleted) or in `KEPT` (shared rows that stay, with the reference set to NULL). The deletes are issued
here rather than left to the foreign keys' ON DELETE: SQLite does not enforce them unless asked, and a
test checks that no reference to `users.id` is left out of these two lists.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
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
from webapp.gamenight.models import (
    Availability,
    Campaign,
    CampaignJob,
    CampaignRecipient,
    LinkCode,
    PlanningMember,
    PlanningRoom,
    PlanningTeam,
    PlayerProfile,
    SuggestionVote,
    TeamSuggestion,
)
from webapp.notify.models import Contact, Delivery, Preference
from webapp.processes.models import Process, ProcessVersion
from webapp.webhooks.models import WebhookEndpoint
from webapp.worlds.models import BuildProject

EXPORT_FORMAT = "promotion-desk/member-data"
EXPORT_VERSION = 1

# The member's own rows: deleted with the account.
REMOVED: tuple[InstrumentedAttribute[Any], ...] = (
    SuggestionVote.user_id, PlanningMember.user_id, CampaignRecipient.user_id, Contact.user_id,
    Preference.user_id, Availability.user_id, LinkCode.user_id, PlayerProfile.user_id, ApiToken.user_id,
    Membership.user_id,
)
# Shared rows that outlive the account: only the reference to it goes (the audit rows are pseudonymised
# first, while `actor_id` still finds them).
KEPT: tuple[InstrumentedAttribute[Any], ...] = (
    AuditEvent.actor_id, Delivery.user_id, Campaign.promoter_id, TeamSuggestion.created_by_id,
    PlanningRoom.created_by_id, ApiToken.created_by_id, Process.created_by_id, ProcessVersion.created_by_id,
    ProcessVersion.promoted_by_id, BuildProject.owner_id, BuildProject.promoted_by_id,
    WebhookEndpoint.created_by_id,
)
# Keys that name a member in audit details: in an entry with their `user_id`, or in an event about them.
NAMED_BY = frozenset({"user_id", "name", "display_name"})
AUDIT_BATCH = 500


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


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


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
        "account": {"email": user.email, "created_at": _iso(user.created_at)},
        "workspaces": [_workspace_data(user, m, ws) for m, ws in memberships],
    }


def _workspace_data(user: User, membership: Membership, ws: Workspace) -> dict[str, Any]:
    uid, wid = user.id, ws.id
    profile = db.session.scalar(select(PlayerProfile).where(PlayerProfile.workspace_id == wid,
                                                            PlayerProfile.user_id == uid))
    pref = db.session.get(Preference, (wid, uid))
    return {
        "name": ws.name,
        "slug": ws.slug,
        "role": membership.role.name,
        "member_since": _iso(membership.created_at),
        "player_profile": None if profile is None else {
            "display_name": profile.display_name, "aliases": list(profile.aliases or []),
            "created_at": _iso(profile.created_at)},
        "contacts": [
            {"channel": c.channel.value, "external_id": c.external_id, "target": c.target_hint or None,
             "confirmed_at": _iso(c.confirmed_at), "created_at": _iso(c.created_at)}
            for c in db.session.scalars(select(Contact).where(Contact.workspace_id == wid, Contact.user_id == uid)
                                        .order_by(Contact.channel))],
        "preferences": None if pref is None else {
            "opted_in": pref.opted_in, "channel_order": list(pref.channel_order or []),
            "quiet_hours": pref.quiet_hours, "updated_at": _iso(pref.updated_at)},
        "availability": [
            {"day": _iso(a.day), "status": a.status.value, "updated_at": _iso(a.updated_at)}
            for a in db.session.scalars(select(Availability).where(Availability.workspace_id == wid,
                                                                   Availability.user_id == uid)
                                        .order_by(Availability.day))],
        "link_codes": [
            {"created_at": _iso(code.created_at), "expires_at": _iso(code.expires_at), "used_at": _iso(code.used_at)}
            for code in db.session.scalars(select(LinkCode).where(LinkCode.workspace_id == wid,
                                                                  LinkCode.user_id == uid)
                                           .order_by(LinkCode.created_at))],
        "planning_rooms": [  # the team they were on, never who else was
            {"day": _iso(day), "joined_at": _iso(joined_at), "team": team}
            for day, joined_at, team in db.session.execute(
                select(PlanningRoom.day, PlanningMember.joined_at, PlanningTeam.name)
                .join(PlanningMember, PlanningMember.room_id == PlanningRoom.id)
                .outerjoin(PlanningTeam, PlanningTeam.id == PlanningMember.team_id)
                .where(PlanningRoom.workspace_id == wid, PlanningMember.user_id == uid)
                .order_by(PlanningRoom.day))],
        "team_name_suggestions": [
            {"day": _iso(day), "name": name, "created_at": _iso(created_at)}
            for day, name, created_at in db.session.execute(
                select(PlanningRoom.day, TeamSuggestion.name, TeamSuggestion.created_at)
                .join(PlanningRoom, PlanningRoom.id == TeamSuggestion.room_id)
                .where(PlanningRoom.workspace_id == wid, TeamSuggestion.created_by_id == uid)
                .order_by(TeamSuggestion.created_at, TeamSuggestion.id))],
        "votes": [
            {"day": _iso(day), "suggestion": name, "created_at": _iso(created_at)}
            for day, name, created_at in db.session.execute(
                select(PlanningRoom.day, TeamSuggestion.name, SuggestionVote.created_at)
                .join(TeamSuggestion, TeamSuggestion.id == SuggestionVote.suggestion_id)
                .join(PlanningRoom, PlanningRoom.id == TeamSuggestion.room_id)
                .where(PlanningRoom.workspace_id == wid, SuggestionVote.user_id == uid)
                .order_by(SuggestionVote.created_at, TeamSuggestion.id))],
        "campaigns_promoted": [
            {"campaign_id": c.id, "day": _iso(c.local_day), "start_at": _iso(c.start_at), "status": c.status.value,
             "dry_run": c.dry_run, "created_at": _iso(c.created_at), "cancelled_at": _iso(c.cancelled_at)}
            for c in db.session.scalars(select(Campaign).where(Campaign.workspace_id == wid,
                                                               Campaign.promoter_id == uid)
                                        .order_by(Campaign.local_day, Campaign.id))],
        "campaigns_received": [  # their own recipient row only
            {"campaign_id": campaign_id, "day": _iso(day), "status_when_promoted": status.value}
            for campaign_id, day, status in db.session.execute(
                select(Campaign.id, Campaign.local_day, CampaignRecipient.status)
                .join(CampaignRecipient, CampaignRecipient.campaign_id == Campaign.id)
                .where(Campaign.workspace_id == wid, CampaignRecipient.user_id == uid)
                .order_by(Campaign.local_day, Campaign.id))],
        "deliveries": [  # the ledger rows addressed to them; never a target or the provider's answer
            {"source": d.source_type, "kind": kind.value if kind is not None else None,
             "campaign_id": campaign_id, "status": d.status.value, "channel": d.channel, "attempts": d.attempts,
             "claimed_at": _iso(d.claimed_at), "finished_at": _iso(d.finished_at)}
            for d, kind, campaign_id in db.session.execute(
                select(Delivery, CampaignJob.kind, CampaignJob.campaign_id)
                .outerjoin(CampaignJob, (Delivery.source_type == "campaign_job")
                           & (CampaignJob.id == Delivery.source_id))
                .where(Delivery.workspace_id == wid, Delivery.user_id == uid)
                .order_by(Delivery.claimed_at, Delivery.id))],
        "api_tokens": [  # never the hash
            {"name": t.name, "prefix": t.prefix, "created_at": _iso(t.created_at),
             "last_used_at": _iso(t.last_used_at), "revoked_at": _iso(t.revoked_at)}
            for t in db.session.scalars(select(ApiToken).where(ApiToken.workspace_id == wid,
                                                               ApiToken.kind == TokenKind.personal,
                                                               ApiToken.user_id == uid)
                                        .order_by(ApiToken.created_at, ApiToken.id))],
        "audit_events": [  # where they acted; without `details`, which may name other members
            {"action": e.action, "resource_type": e.resource_type,
             "resource_id": None if e.resource_type == "user" and e.resource_id != str(uid) else e.resource_id,
             "created_at": _iso(e.created_at)}
            for e in db.session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == wid,
                                                                 _acted_by(user))
                                        .order_by(AuditEvent.created_at, AuditEvent.id))],
    }


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
    for column in REMOVED:
        db.session.execute(delete(column.class_).where(column == user.id))
    for column in KEPT:
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
