"""Who is asking: the signed-in user and their current workspace, or the bearer of a token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, g, request, session
from flask_login import current_user

from webapp.accounts import services
from webapp.accounts.models import Membership, Role, User
from webapp.accounts.services import Actor
from webapp.errors import Forbidden, Unauthorized
from webapp.extensions import db, login_manager

login_manager.login_view = "accounts.login"
login_manager.login_message = "Sign in to continue."


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The user a session names (`User.get_id`), if they still exist: same id, same creation time and the
    current session generation (sign-out, a password change or "sign out everywhere" advance it)."""
    user_id, _, _ = session_id.partition(":")
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    return user if user is not None and user.get_id() == session_id else None


def current_actor() -> Actor:
    """The signed-in user acting in the workspace chosen in their session (the first one otherwise)."""
    if "actor" in g:
        return g.actor
    if not current_user.is_authenticated:
        raise Unauthorized("Sign in to continue.")
    # Every membership in one query: the layout's workspace switcher lists them all (`current_memberships`).
    g.memberships = memberships = services.memberships(current_user.id)
    chosen = session.get("workspace_id")
    membership = next((m for m in memberships if m.workspace_id == chosen), None)
    if membership is None:
        if not memberships:
            raise Forbidden("Your account is not a member of any workspace yet; ask an admin to add you.")
        membership = memberships[0]
        session["workspace_id"] = membership.workspace_id
    g.actor = Actor(user_id=current_user.id, workspace_id=membership.workspace_id, role=membership.role,
                    label=current_user.email)
    g.workspace = membership.workspace
    return g.actor


def current_memberships() -> Sequence[Membership]:
    """The signed-in user's memberships, as `current_actor` read them for this request."""
    actor = current_actor()
    if "memberships" not in g:  # the actor came from elsewhere (a token)
        g.memberships = services.memberships(actor.user_id)
    return g.memberships


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def api_actor() -> Actor:
    """The actor a personal access token stands for (management API)."""
    if "actor" not in g:
        g.actor = services.actor_for_personal_token(bearer_token())
    return g.actor


def admin_only(bp: Blueprint, doing: str) -> None:
    """Every page of `bp`, read or write, is for the workspace's admins: others get 403, visitors the login."""

    @bp.before_request
    def _admins() -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        current_actor().require(Role.admin, doing)
        return None


def signed_in_only(bp: Blueprint) -> None:
    """Every page of `bp` sends visitors who are not signed in to the login page first."""

    @bp.before_request
    def _signed_in() -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None
