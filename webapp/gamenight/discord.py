"""Discord through OAuth2 (authorization code + PKCE): link a member's Discord account, and sign in with it.

The dance, and what each step keeps:
1. `begin()` makes a fresh `state` and PKCE `code_verifier` and the authorize URL. The view keeps them in
   the signed session cookie (with the purpose, the member and workspace, the redirect URI and an expiry
   of ten minutes) and sends the browser to Discord. The redirect URI must be in the allowlist
   (`DISCORD_REDIRECT_URIS`) before anything goes to Discord.
2. `identity_from_callback()` checks what came back (Discord's `error`, the state, the verifier, the
   code), exchanges the code for a token, asks `@me` who it is and revokes the token at once: the token
   lives in this function's locals only — never stored, logged or put in the session.
3. Linking: the identity waits in the session until the member confirms which player it is
   (`suggestions()`, `link()`); `link()` writes the profile and the contact in one transaction through the
   same `attach_identity()` the bots' link codes use. Sign-in: `sign_in()` finds the member.

Any failure raises a domain error (400, 403, 404, 409, or 502 when Discord fails) and writes nothing.
"""

from __future__ import annotations

import difflib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import Membership, User, Workspace
from webapp.accounts.services import Actor
from webapp.audit import services as audit
from webapp.commands import Command, Line, parse
from webapp.config import Settings
from webapp.errors import BadRequest, Conflict, DomainError, Forbidden, Invalid, NotFound
from webapp.extensions import db, utcnow
from webapp.gamenight import players
from webapp.gamenight.models import PlayerProfile, PresenceReport
from webapp.notify import contacts
from webapp.notify.models import Channel, Contact

log = logging.getLogger(__name__)

SCOPE = "identify"
FLOW_TTL = timedelta(minutes=10)
HTTP_TIMEOUT_SECONDS = 10.0
PURPOSES = ("link", "login")
PRESENCE_LOOKBACK = timedelta(days=1)  # presence reports are kept a day (webapp/gamenight/presence.py)
NAME_MATCH_CUTOFF = 0.6
DISCORD_ID_RE = re.compile(r"[0-9]{1,30}")
ERROR_CODE_RE = re.compile(r"[a-z_]{1,60}")


class DiscordUnavailable(DomainError):
    """Discord did not answer, or answered something we cannot use: 502, nothing written."""

    status = 502
    code = "discord_unavailable"


# -- configuration ------------------------------------------------------------------------------


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def configured() -> bool:
    return _settings().discord_configured


def require_configured() -> Settings:
    settings = _settings()
    if not settings.discord_configured:
        raise NotFound("Discord is not set up on this server (DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET); "
                       "sign in with your password, and link a chat account with a link code on your profile page.",
                       code="discord_not_configured")
    return settings


def _endpoint(settings: Settings, path: str) -> str:
    return settings.DISCORD_BASE_URL.rstrip("/") + path


def _client(settings: Settings, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(settings.DISCORD_CLIENT_ID.strip(), settings.DISCORD_CLIENT_SECRET.strip(), scope=SCOPE,
                         redirect_uri=redirect_uri, code_challenge_method="S256",
                         default_timeout=HTTP_TIMEOUT_SECONDS)


def check_redirect_uri(settings: Settings, redirect_uri: str) -> str:
    """The callback address must be one the operator allowed (and registered at Discord): a request
    that arrives under another Host must not send Discord's code anywhere else."""
    if redirect_uri not in settings.discord_redirect_uris:
        raise BadRequest(f"Redirect URI not allowed: {redirect_uri[:200]} is not in DISCORD_REDIRECT_URIS. Open the "
                         "dashboard at its public address, or ask the operator to add this address.",
                         code="redirect_uri_not_allowed")
    return redirect_uri


# -- the dance ----------------------------------------------------------------------------------


def begin(purpose: str, redirect_uri: str, *, user_id: int | None = None, workspace_id: int | None = None,
          next_url: str | None = None) -> tuple[str, dict[str, Any]]:
    """(Discord's authorize URL, the flow to keep in the session until the callback)."""
    settings = require_configured()
    assert purpose in PURPOSES
    check_redirect_uri(settings, redirect_uri)
    state, verifier = generate_token(32), generate_token(64)  # RFC 7636: a verifier has 43 to 128 characters
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(_endpoint(settings, "/oauth2/authorize"), state=state,
                                                 code_verifier=verifier,
                                                 # linking shows which account is about to be linked;
                                                 # signing in again needs no second consent screen
                                                 prompt="consent" if purpose == "link" else "none")
    flow = {"purpose": purpose, "state": state, "verifier": verifier, "redirect_uri": redirect_uri,
            "user_id": user_id, "workspace_id": workspace_id, "next": next_url,
            "expires": int(time.time() + FLOW_TTL.total_seconds())}
    return url, flow


@dataclass(frozen=True)
class DiscordIdentity:
    id: str
    username: str
    global_name: str | None = None

    @property
    def name(self) -> str:
        """How a page names the account: `Global Name (@username)`."""
        return f"{self.global_name} (@{self.username})" if self.global_name else f"@{self.username}"

    def to_session(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> DiscordIdentity:
        if not isinstance(data, dict):
            raise DiscordUnavailable("Discord answered who you are with something unreadable; try again later.")
        user_id, username, global_name = data.get("id"), data.get("username"), data.get("global_name")
        if not isinstance(user_id, str) or not DISCORD_ID_RE.fullmatch(user_id) or not isinstance(username, str) \
                or not 0 < len(username) <= 100:
            raise DiscordUnavailable("Discord answered who you are without a usable id or name; try again later.")
        if not isinstance(global_name, str) or not global_name.strip() or len(global_name) > 100:
            global_name = None
        return cls(id=user_id, username=username, global_name=global_name.strip() if global_name else None)


def _what(flow: Mapping[str, Any] | None) -> str:
    return "sign-in" if flow and flow.get("purpose") == "login" else "link"


def identity_from_callback(args: Mapping[str, str], flow: Mapping[str, Any] | None) -> DiscordIdentity:
    """Check Discord's answer against the flow this browser started, then learn who the account is.

    Discord's `error` → 400; no flow, an expired one or another state → 400; no verifier → 400; the
    token exchange or `@me` failing → 502. The access token is revoked as soon as `@me` has answered."""
    settings = require_configured()
    what = _what(flow)
    error = args.get("error")
    if error:
        code = error if ERROR_CODE_RE.fullmatch(error) else "error"
        reason = "you cancelled it" if code == "access_denied" else "Discord refused it"
        raise BadRequest(f"Discord did not authorize the {what} ({reason}: {code}). Nothing was changed; you can "
                         "try again.", code="discord_refused")
    state = args.get("state") or ""
    if not flow or not isinstance(flow.get("state"), str) \
            or not hmac.compare_digest(flow["state"].encode(), state.encode()):
        raise BadRequest(f"This Discord answer does not belong to a {what} started in this browser (the state "
                         "does not match). Nothing was changed; start again.", code="state_mismatch")
    if int(flow.get("expires") or 0) < time.time():
        raise BadRequest(f"The Discord {what} took longer than {int(FLOW_TTL.total_seconds() // 60)} minutes. "
                         "Nothing was changed; start again.", code="flow_expired")
    verifier = flow.get("verifier")
    if not isinstance(verifier, str) or not verifier:
        raise BadRequest(f"This Discord {what} lost its PKCE verifier (the session changed). Nothing was changed; "
                         "start again.", code="verifier_missing")
    code = args.get("code") or ""
    if not code or len(code) > 200:
        raise BadRequest("Discord's answer has no authorization code. Nothing was changed; start again.",
                         code="code_missing")
    redirect_uri = check_redirect_uri(settings, str(flow.get("redirect_uri") or ""))
    with _client(settings, redirect_uri) as client:
        try:
            token = client.fetch_token(_endpoint(settings, "/api/oauth2/token"), grant_type="authorization_code",
                                       code=code, code_verifier=verifier)
        except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
            log.warning("discord token exchange failed: %s", _describe(exc))
            raise DiscordUnavailable(f"Discord did not complete the {what} (the code could not be exchanged). "
                                     "Nothing was changed; try again in a moment.") from None
        try:
            if not token.get("access_token"):
                raise DiscordUnavailable(f"Discord did not complete the {what} (no access token). Nothing was "
                                         "changed; try again in a moment.")
            try:
                answer = client.get(_endpoint(settings, "/api/users/@me"))
                answer.raise_for_status()
                data = answer.json()
            except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
                log.warning("discord @me failed: %s", _describe(exc))
                raise DiscordUnavailable(f"Discord did not say who you are, so the {what} stopped. Nothing was "
                                         "changed; try again in a moment.") from None
            return DiscordIdentity.from_json(data)
        finally:
            _revoke(client, settings, token.get("access_token"))


def _revoke(client: OAuth2Session, settings: Settings, access_token: Any) -> None:
    """Best effort: we needed the token for one question and keep nothing, so Discord may forget it."""
    if not access_token:
        return
    try:
        client.revoke_token(_endpoint(settings, "/api/oauth2/token/revoke"), token=access_token,
                            token_type_hint="access_token").raise_for_status()
    except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
        log.info("discord token revocation failed (it expires on its own): %s", _describe(exc))


def _describe(exc: Exception) -> str:
    """An error for the log without what a response or request carried (tokens, codes)."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, AuthlibBaseError):
        return f"{type(exc).__name__} {getattr(exc, 'error', '')}"
    return type(exc).__name__


# -- linking ------------------------------------------------------------------------------------


def check_not_taken(workspace_id: int, user_id: int, identity_id: str) -> None:
    """409 when the Discord account belongs to another member of the workspace."""
    contacts.check_not_taken(workspace_id, user_id, Channel.discord, identity_id)


def current_discord(workspace_id: int, user_id: int) -> Contact | None:
    return contacts.contact_on(workspace_id, user_id, Channel.discord)


def suggestions(workspace_id: int, identity: DiscordIdentity, email: str) -> list[str]:
    """Player names to offer a member without a profile: the Discord names, the e-mail's local part, and
    names seen on the game server lately that look like those and are nobody's display name or alias."""
    basics = [n for n in (identity.global_name, identity.username, email.split("@")[0]) if n]
    taken = {name.casefold() for name, aliases in db.session.execute(
        select(PlayerProfile.display_name, PlayerProfile.aliases).where(PlayerProfile.workspace_id == workspace_id))
        for name in [name, *(aliases or [])] if isinstance(name, str)}
    seen = {name for present in db.session.scalars(
        select(PresenceReport.present).where(PresenceReport.workspace_id == workspace_id,
                                             PresenceReport.source == "game_server",
                                             PresenceReport.seen_at >= utcnow() - PRESENCE_LOOKBACK)
        .order_by(PresenceReport.seen_at.desc()).limit(50))
        for name in present or [] if isinstance(name, str) and 0 < len(name) <= 80 and name.casefold() not in taken}
    by_folded = {name.casefold(): name for name in sorted(seen)}
    matches: list[str] = []
    for basic in basics:
        for folded in difflib.get_close_matches(basic.casefold(), list(by_folded), n=3, cutoff=NAME_MATCH_CUTOFF):
            matches.append(by_folded[folded])
    names: list[str] = []
    for name in [*basics, *matches]:
        name = name.strip()[:80]
        if name and name.casefold() not in (n.casefold() for n in names):
            names.append(name)
    return names


def link(actor: Actor, identity: DiscordIdentity, display_name: str, *, replacing: str | None) -> Contact:
    """The member confirms: their player profile (created, or renamed to `display_name`) and the confirmed
    Discord contact, in one transaction, audited. 409 when the account is another member's by now, or when
    the member's linked Discord account is no longer the one the page showed (`replacing`)."""
    assert actor.user_id is not None
    try:
        check_not_taken(actor.workspace_id, actor.user_id, identity.id)
        mine = current_discord(actor.workspace_id, actor.user_id)
        now_linked = mine.external_id if mine is not None and mine.external_id != identity.id else None
        if (now_linked or None) != (replacing or None):
            raise Conflict("Your linked Discord account changed since you opened this page; nothing was changed. "
                           "Check the page again and confirm.", code="changed_meanwhile")
        player = players.profile(actor.workspace_id, actor.user_id)
        if player is None or player.display_name != display_name.strip():
            players.put_profile(actor, parse(players.PlayerCommand, {"display_name": display_name}))
        # proven: Discord itself said so, so this contact may sign its member in
        contact, replaced = contacts.attach_identity(actor.workspace_id, actor.user_id, Channel.discord,
                                                     identity.id, replace=True, proven=True)
        db.session.flush()
        audit.record(actor, "contact.linked", "contact", contact.id,
                     {"channel": Channel.discord.value, "via": "oauth", "user_id": actor.user_id,
                      "replaced": replaced is not None})
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    except IntegrityError:
        db.session.rollback()
        raise contacts.identity_taken_meanwhile(Channel.discord) from None
    return contact


class ConfirmCommand(Command):
    """The confirm page's form: a suggested name picked or another one typed, and the linked account the page
    showed as being replaced (empty: none)."""

    display_name: Line = ""
    custom_name: Line = ""
    replacing: Line = ""

    def chosen_name(self) -> str:
        """The name the member typed wins over the suggestion they picked; 422 when there is neither."""
        if self.custom_name:
            return self.custom_name
        if not self.display_name:
            raise Invalid("Pick one of the names or type another one.",
                          details={"display_name": "required, one line, at most 80 characters"})
        return self.display_name


# -- sign-in ------------------------------------------------------------------------------------


def sign_in(identity: DiscordIdentity) -> tuple[User, int]:
    """The member this Discord account is linked to through Link Discord (Discord proved it; a bot's link code
    only asserts an id, so it never signs anyone in), and the workspace to open. 403 when nobody linked it
    so; 409 when it is linked to different people in different workspaces."""
    rows = db.session.execute(
        select(Contact.user_id, Contact.workspace_id).join(Workspace, Workspace.id == Contact.workspace_id)
        .join(Membership, (Membership.user_id == Contact.user_id) & (Membership.workspace_id == Contact.workspace_id))
        .where(Contact.channel == Channel.discord, Contact.external_id == identity.id,
               Contact.oauth_verified_at.is_not(None))
        .order_by(Workspace.name, Contact.id)).all()
    if not rows:
        raise Forbidden(f"No member has linked the Discord account {identity.name}. Sign in with your e-mail and "
                        "password, then use Link Discord on your profile page; after that this button signs you "
                        "in.", code="discord_not_linked")
    if len({user_id for user_id, _ in rows}) > 1:
        raise Conflict(f"The Discord account {identity.name} is linked to different people in different "
                       "workspaces, so it cannot tell who you are. Sign in with your e-mail and password.",
                       code="discord_ambiguous")
    user_id, workspace_id = rows[0]
    user = db.session.get(User, user_id)
    assert user is not None
    audit.record(None, "auth.login", "user", user.id, {"via": "discord"}, workspace_id=workspace_id,
                 actor_label=user.email)
    db.session.commit()
    return user, workspace_id
