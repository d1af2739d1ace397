"""Discord in the browser: Link Discord (profile → Discord → choose or confirm the player → done), and
Sign in with Discord. The rules and the calls to Discord are in webapp/gamenight/discord.py.

Starting is a GET link, not a form: it writes nothing but the flow's state in this browser's session,
and a form posting to a redirect that leaves the site would be stopped by our CSP (`form-action 'self'`).
A forged start gains nothing — the state ties Discord's answer to this browser, and linking still waits
for the member's own POST (with its CSRF token) on the confirm page.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, flash, redirect, request, session, url_for
from flask_login import current_user, login_user

from webapp.accounts.context import current_actor, signed_in_only
from webapp.accounts.services import Actor
from webapp.accounts.views import safe_next
from webapp.commands import from_form
from webapp.errors import BadRequest, Conflict, DomainError
from webapp.gamenight import discord, night_settings, players
from webapp.gamenight.discord import DiscordIdentity
from webapp.htmx import no_store, render

bp = Blueprint("discord", __name__)  # the callback and sign-in: nobody is signed in yet
members = Blueprint("discord_members", __name__)  # linking: the signed-in member
signed_in_only(members)

FLOW_KEY = "discord_oauth"  # state, PKCE verifier, purpose, member, redirect URI, expiry: until the callback
PENDING_KEY = "discord_pending"  # the identity Discord named, until the member confirms it (never a token)


@bp.app_context_processor
def _discord_context() -> dict[str, Any]:
    """`discord_configured` for the buttons; `profile_unlinked()` for the nav badge (one query, and only
    when the nav is drawn)."""
    return {"discord_configured": discord.configured(), "profile_unlinked": _profile_unlinked}


def _profile_unlinked() -> bool:
    if not current_user.is_authenticated:
        return False
    try:
        actor = current_actor()
    except DomainError:
        return False
    return not players.is_linked(actor.workspace_id, actor.user_id)


def _callback_url() -> str:
    # Built from the request; discord.check_redirect_uri holds it to the allowlist (a forged Host fails).
    return url_for("discord.callback", _external=True)


def _to_discord(url: str, flow: dict[str, Any]) -> Response:
    session[FLOW_KEY] = flow
    return no_store(redirect(url))


@members.get("/profile/discord/link")
def link() -> Response:
    actor = current_actor()
    url, flow = discord.begin("link", _callback_url(), user_id=actor.user_id, workspace_id=actor.workspace_id)
    session.pop(PENDING_KEY, None)
    return _to_discord(url, flow)


@bp.get("/login/discord")
def login() -> Response:
    url, flow = discord.begin("login", _callback_url(), next_url=safe_next(request.args.get("next")))
    return _to_discord(url, flow)


@bp.get("/auth/discord/callback")
def callback() -> Response:
    """One callback for both purposes; the flow in the session says which (used once, whatever happens)."""
    discord.require_configured()
    flow = session.pop(FLOW_KEY, None)
    flow = flow if isinstance(flow, dict) else None
    identity = discord.identity_from_callback(request.args, flow)
    assert flow is not None
    if flow.get("purpose") == "login":
        user, workspace_id = discord.sign_in(identity)
        session.clear()  # a fresh session (and CSRF token) at sign-in, as with a password
        login_user(user)
        session["workspace_id"] = workspace_id
        return redirect(safe_next(flow.get("next")) or url_for("desk.index"))
    if not current_user.is_authenticated or current_user.id != flow.get("user_id"):
        raise BadRequest("You are not signed in as the member who started Link Discord. Nothing was changed; sign "
                         "in and start again from your profile page.", code="member_changed")
    discord.check_not_taken(flow["workspace_id"], current_user.id, identity.id)
    session[PENDING_KEY] = {**identity.to_session(), "user_id": current_user.id,
                            "workspace_id": flow["workspace_id"],
                            "expires": int(time.time() + discord.FLOW_TTL.total_seconds())}
    return redirect(url_for("discord_members.confirm"))


def _pending(actor: Actor) -> DiscordIdentity:
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict) or data.get("user_id") != actor.user_id \
            or int(data.get("expires") or 0) < time.time():
        raise BadRequest("No Discord account is waiting to be linked (confirm within 10 minutes of Discord's "
                         "answer). Start Link Discord again from your profile page.", code="nothing_pending")
    if data.get("workspace_id") != actor.workspace_id:
        raise BadRequest("You switched workspace after Discord answered; switch back, or start Link Discord again "
                         "in this workspace.", code="workspace_changed")
    return DiscordIdentity(id=data["id"], username=data["username"], global_name=data.get("global_name"))


def _confirm_page(actor: Actor, identity: DiscordIdentity, status: int = 200, error: DomainError | None = None,
                  typed: str = "") -> Response:
    assert actor.user_id is not None
    player = players.profile(actor.workspace_id, actor.user_id)
    current = discord.current_discord(actor.workspace_id, actor.user_id)
    replacing = current if current is not None and current.external_id != identity.id else None
    names = [] if player else discord.suggestions(actor.workspace_id, identity, actor.label)
    return no_store(render("gamenight/discord_confirm.html", status=status, identity=identity, player=player,
                           replacing=replacing, already=current is not None and replacing is None,
                           suggestions=names, error=error, typed=typed,
                           ws=night_settings.workspace(actor.workspace_id)))


@members.route("/profile/discord/confirm", methods=["GET", "POST"])
def confirm() -> Any:
    actor = current_actor()
    identity = _pending(actor)
    try:
        if request.method == "GET":
            discord.check_not_taken(actor.workspace_id, actor.user_id, identity.id)
            return _confirm_page(actor, identity)
        command = from_form(discord.ConfirmCommand)
        name = command.chosen_name()
        discord.link(actor, identity, name, replacing=command.replacing or None)
    except Conflict as exc:
        if exc.code == "identity_taken":  # nothing left to confirm: the account is someone else's
            session.pop(PENDING_KEY, None)
            raise
        return _confirm_page(actor, identity, exc.status, exc)
    except DomainError as exc:
        return _confirm_page(actor, identity, exc.status, exc, typed=request.form.get("custom_name", ""))
    session.pop(PENDING_KEY, None)
    flash(f"Discord account {identity.name} is linked to your player {name.strip()}.", "success")
    return redirect(url_for("gamenight_members.profile"), code=303)
