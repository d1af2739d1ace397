"""Users, workspaces, memberships and tokens — the rules, with their transactions (signing in and sessions:
`webapp.accounts.signin`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta, tzinfo

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import contains_eager
from werkzeug.security import generate_password_hash

from webapp.accounts.models import (
    ApiToken,
    Environment,
    Membership,
    Role,
    TokenKind,
    User,
    Workspace,
)
from webapp.audit import services as audit
from webapp.errors import Forbidden, Invalid, NotFound, Unauthorized
from webapp.extensions import db, utcnow
from webapp.sealing import hash_token, new_token

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOKEN_PREFIXES = {
    (TokenKind.personal, None): "pdp",
    (TokenKind.environment, Environment.sandbox): "pdk_sandbox",
    (TokenKind.environment, Environment.production): "pdk_production",
}
# Writing last_used_at on every serving request would make reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    """Who is acting, where, with which role. Views build it from the session, the API from a token."""

    user_id: int | None
    workspace_id: int
    role: Role
    label: str

    def require(self, role: Role, doing: str = "do this") -> None:
        if self.role < role:
            raise Forbidden(f"You need the {role.name} role to {doing}; your role here is {self.role.name}.")

    def can(self, role: Role) -> bool:
        return self.role >= role


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise Invalid(f"{email!r} is not an e-mail address.")
    return email


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.strip().lower()).strip("-")
    return slug[:100]


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["SETTINGS"].PASSWORD_HASH_METHOD)


def check_new_password(password: str) -> None:
    if len(password or "") < 8:
        raise Invalid("A password needs at least 8 characters.")


# -- users and workspaces ---------------------------------------------------------------------


def create_user(email: str, password: str, workspace: str, role: str | Role,
                operator: bool | None = None, *, password_hash: str | None = None) -> tuple[User, Membership]:
    """Create the user (or find them), create the workspace if needed, and grant the role there; with
    `operator` True/False also grant/revoke the installation's operator role (None leaves it as it is).
    `password_hash`: `hash_password(password)` done once for several users (the demo's share one password)."""
    email = normalise_email(email)
    role = role if isinstance(role, Role) else Role.parse(role)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        check_new_password(password)
        user = User(email=email, password_hash=password_hash or hash_password(password))
        db.session.add(user)
    ws = get_or_create_workspace(workspace)
    db.session.flush()
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == ws.id)
    )
    if membership is None:
        membership = Membership(user=user, workspace=ws, role=role)
        db.session.add(membership)
    else:
        membership.role = role
    if operator is not None:
        _set_operator(user, operator)
    db.session.commit()
    return user, membership


def _set_operator(user: User, operator: bool) -> None:
    if user.is_operator != operator:
        user.is_operator = operator
        # Instance-level, so in no workspace's log: kept with workspace_id NULL, for the operators.
        audit.record(None, f"operator.{'granted' if operator else 'revoked'}", "user", user.id,
                     {"email": user.email}, workspace_id=None, actor_label="cli")


def set_operator(email: str, operator: bool) -> User:
    """Grant or revoke the installation's operator role (the RQ dashboard) for an existing user."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No user {email.strip()!r}.")
    _set_operator(user, operator)
    db.session.commit()
    return user


def get_or_create_workspace(name: str) -> Workspace:
    slug = slugify(name)
    if not slug:
        raise Invalid("A workspace needs a name with at least one letter or digit.")
    ws = db.session.scalar(select(Workspace).where(Workspace.slug == slug))
    if ws is None:
        ws = Workspace(name=name.strip(), slug=slug)
        db.session.add(ws)
        db.session.flush()
    return ws


def time_zone(workspace_id: int) -> tzinfo:
    """The workspace's time zone (`Workspace.zone`), UTC for none."""
    workspace = db.session.get(Workspace, workspace_id)
    return workspace.zone if workspace is not None else UTC


def workspace_by_slug(slug: str) -> Workspace:
    ws = db.session.scalar(select(Workspace).where(Workspace.slug == slugify(slug)))
    if ws is None:
        raise NotFound(f"No workspace {slug!r}.")
    return ws


_MEMBERSHIPS = (select(Membership).join(Workspace).options(contains_eager(Membership.workspace))
                .where(Membership.user_id == bindparam("user_id")).order_by(Workspace.name))


def memberships(user_id: int) -> Sequence[Membership]:
    """The user's memberships with their workspaces (one query, built once: every signed-in page asks), by
    workspace name."""
    return db.session.scalars(_MEMBERSHIPS, {"user_id": user_id}).all()


def membership(user_id: int, workspace_id: int | None) -> Membership | None:
    if workspace_id is None:
        return None
    return db.session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.workspace_id == workspace_id)
    )


# -- tokens -----------------------------------------------------------------------------------


def _issue(actor: Actor, kind: TokenKind, name: str, *, environment: Environment | None,
           user_id: int | None) -> tuple[ApiToken, str]:
    name = (name or "").strip() or (f"{environment.value} key" if environment else "personal token")
    if len(name) > 120:
        raise Invalid("A token name has at most 120 characters.")
    label = TOKEN_PREFIXES[(kind, environment)]
    plaintext = new_token(label)
    token = ApiToken(
        workspace_id=actor.workspace_id, kind=kind, environment=environment, user_id=user_id,
        created_by_id=actor.user_id, name=name, prefix=plaintext[: len(label) + 5],
        token_hash=hash_token(plaintext),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(actor, f"{'key' if environment else 'token'}.created", "api_token", token.id,
                 {"name": name, "environment": environment.value if environment else None})
    db.session.commit()
    return token, plaintext


def create_environment_key(actor: Actor, environment: str, name: str = "") -> tuple[ApiToken, str]:
    """A serving key for one environment of the actor's workspace; admins only. Shown once."""
    actor.require(Role.admin, "create environment keys")
    try:
        env = Environment(environment)
    except ValueError:
        raise Invalid("Environment must be sandbox or production.") from None
    return _issue(actor, TokenKind.environment, name, environment=env, user_id=None)


def create_personal_token(actor: Actor, name: str = "") -> tuple[ApiToken, str]:
    """A token that acts as the actor, with the actor's role, in this workspace. Shown once."""
    if actor.user_id is None:
        raise Forbidden("Only a signed-in person can create a personal access token.")
    return _issue(actor, TokenKind.personal, name, environment=None, user_id=actor.user_id)


def list_tokens(actor: Actor, kind: TokenKind) -> Sequence[ApiToken]:
    """A workspace's environment keys (admins only), or personal tokens: one's own, or everyone's for admins."""
    if kind is TokenKind.environment:
        actor.require(Role.admin, "see the environment keys")
    query = select(ApiToken).where(ApiToken.workspace_id == actor.workspace_id, ApiToken.kind == kind)
    if kind is TokenKind.personal and not actor.can(Role.admin):
        query = query.where(ApiToken.user_id == actor.user_id)
    return db.session.scalars(query.order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())).all()


def revoke_token(actor: Actor, token_id: int, kind: TokenKind) -> ApiToken:
    """Revoke an environment key (admins) or a personal token (its owner, or an admin); idempotent."""
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.workspace_id == actor.workspace_id,
                               ApiToken.kind == kind)
    )
    if token is None:
        raise NotFound(f"No such {'key' if kind is TokenKind.environment else 'token'} in this workspace.")
    if token.kind is TokenKind.environment or token.user_id != actor.user_id:
        actor.require(Role.admin, "revoke keys and other people's tokens")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(actor, f"{'key' if token.environment else 'token'}.revoked", "api_token", token.id,
                     {"name": token.name})
        db.session.commit()
    return token


def touch_token(token_id: int, last_used_at: object) -> None:
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:  # type: ignore[operator]
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        db.session.commit()


# Built once: constructing the statement cost as much Python time as running it (every API request pays it).
_TOKEN_ACTOR = (
    select(ApiToken.id, ApiToken.kind, ApiToken.revoked_at, ApiToken.last_used_at,
           Membership.user_id, Membership.workspace_id, Membership.role, User.email)
    .outerjoin(Membership, (Membership.user_id == ApiToken.user_id) & (Membership.workspace_id == ApiToken.workspace_id))
    .outerjoin(User, User.id == Membership.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def actor_for_personal_token(plaintext: str) -> Actor:
    """The actor a personal access token stands for, with the user's current role: the token, its user's
    membership of the token's workspace and the user's e-mail in one round trip (every API request pays it)."""
    if not plaintext:
        raise Unauthorized("Send a token as 'Authorization: Bearer <token>'.")
    row = db.session.execute(_TOKEN_ACTOR, {"token_hash": hash_token(plaintext)}).one_or_none()
    if row is None or row.revoked_at is not None or row.kind is not TokenKind.personal:
        raise Unauthorized("This token is not valid or has been revoked.")
    touch_token(row.id, row.last_used_at)
    if row.user_id is None:
        raise Unauthorized("This token's user is no longer a member of its workspace.")
    return Actor(user_id=row.user_id, workspace_id=row.workspace_id, role=row.role, label=row.email)


def actor_for_user(user: User, workspace_id: int) -> Actor:
    m = membership(user.id, workspace_id)
    if m is None:
        raise Forbidden("You are not a member of this workspace.")
    return Actor(user_id=user.id, workspace_id=workspace_id, role=m.role, label=user.email)


def system_actor(workspace_id: int, label: str = "cli") -> Actor:
    return Actor(user_id=None, workspace_id=workspace_id, role=Role.admin, label=label)
