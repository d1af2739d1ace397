"""Signing in and the sessions it gives: throttled attempts, the same hashing time for unknown addresses, and the
session generation that sign-out, a password change and "sign out everywhere" advance."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.accounts.models import LoginFailure, Membership, Role, User
from webapp.accounts.services import Actor, check_new_password, hash_password, membership
from webapp.audit import services as audit
from webapp.errors import Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from webapp.extensions import db, utcnow


@functools.cache
def dummy_password_hash(method: str) -> str:
    """A hash of a random password, made once per hash method: an unknown e-mail is checked against it, so
    signing in takes as long for an address without an account as for one with (no account enumeration)."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)



# -- login ------------------------------------------------------------------------------------


def _recent_failures(*conditions: Any) -> int:
    settings = current_app.config["SETTINGS"]
    window_start = utcnow() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    return db.session.scalar(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.created_at >= window_start, *conditions)
    ) or 0


def _check_throttle(email: str, ip: str | None) -> None:
    """429 when this attempt (already counted, see `_begin_attempt`) goes past a limit: this address failed too
    often from this client, this client too often across addresses, or this address too often across all clients
    — the last only for a client that itself failed at this address, so a stranger spraying one address from many
    machines cannot lock its member out of a clean network. The lock is per (address, client) pair."""
    settings = current_app.config["SETTINGS"]
    same_ip = LoginFailure.ip == ip if ip else LoginFailure.ip.is_(None)
    minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
    pair = _recent_failures(LoginFailure.email == email, same_ip)
    if pair > settings.LOGIN_MAX_FAILURES or (
            pair > 1 and _recent_failures(LoginFailure.email == email) > settings.LOGIN_MAX_FAILURES_PER_ADDRESS):
        raise TooManyRequests(f"Too many failed sign-ins for this address. Try again in {minutes} minutes.",
                              retry_after=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    if ip and _recent_failures(same_ip) > settings.LOGIN_MAX_FAILURES_PER_IP:
        raise TooManyRequests(f"Too many failed sign-ins from your network. Try again in {minutes} minutes.",
                              retry_after=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def _begin_attempt(email: str, ip: str | None) -> int:
    """Count the attempt before the slow password check, so attempts sent at once cannot all slip under the
    limits (each sees the others); 429 past a limit. Its row stays as a failure unless `_end_attempt` removes it."""
    attempt = LoginFailure(email=email[:254], ip=ip)
    db.session.add(attempt)
    db.session.commit()
    try:
        _check_throttle(email, ip)
    except TooManyRequests:
        _end_attempt(attempt.id)  # refused unheard: not a guess
        raise
    return attempt.id


def _end_attempt(attempt_id: int) -> None:
    """The attempt succeeded (or was never heard): it is no failure."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.id == attempt_id))
    db.session.commit()


def _record_failure(email: str, user: User | None) -> None:
    """The attempt's row stays; the failure is audited in each workspace of the account. An unknown e-mail (or an
    account in none) has no workspace whose admins should see it, and is kept with workspace_id NULL."""
    workspace_ids = [m.workspace_id for m in user.memberships] if user else []
    for ws_id in workspace_ids or [None]:
        audit.record(None, "auth.login_failed", "user", user.id if user else None,
                     {"email": email[:254]}, workspace_id=ws_id, actor_label=email[:254] or "?")
    db.session.commit()


def authenticate(email: str, password: str, ip: str | None) -> User:
    """The user with these credentials, or `Unauthorized`; too many recent failures → 429."""
    email = (email or "").strip().lower()
    attempt = _begin_attempt(email, ip)
    user = db.session.scalar(select(User).where(User.email == email))
    # An unknown address costs the same hashing time as a known one.
    stored = user.password_hash if user is not None else dummy_password_hash(
        current_app.config["SETTINGS"].PASSWORD_HASH_METHOD)
    if check_password_hash(stored, password or "") and user is not None:
        _end_attempt(attempt)
        return user
    _record_failure(email, user)
    raise Unauthorized("E-mail or password is wrong.")


# -- sessions and passwords -------------------------------------------------------------------


def _advance_generation(user_id: int) -> None:
    """Every session cookie issued to the user so far stops working (`User.get_id` carries the generation)."""
    db.session.execute(update(User).where(User.id == user_id)
                       .values(session_generation=User.session_generation + 1))
    db.session.expire_all()


def sign_out(user_id: int) -> None:
    """Signing out ends every session of the account, including cookies copied from this browser."""
    _advance_generation(user_id)
    db.session.commit()


def sign_out_everywhere(actor: Actor) -> None:
    """The member ends all their sessions (every browser, every copied cookie); audited."""
    if actor.user_id is None:
        raise Forbidden("Only a signed-in person can sign out everywhere.")
    _advance_generation(actor.user_id)
    audit.record(actor, "account.signed_out_everywhere", "user", actor.user_id, {})
    db.session.commit()


def sign_out_member(actor: Actor, user_id: int) -> User:
    """An admin ends all sessions of a member of their workspace (a lost laptop, a leaver); audited."""
    actor.require(Role.admin, "sign members out")
    target = membership(user_id, actor.workspace_id)
    if target is None:
        raise NotFound("No such member in this workspace.")
    _advance_generation(user_id)
    audit.record(actor, "account.signed_out_everywhere", "user", user_id, {"email": target.user.email})
    db.session.commit()
    return target.user


def change_password(actor: Actor, current: str, new: str, ip: str | None) -> User:
    """Set a new password after checking the current one; every other session of the account ends.

    A wrong current password counts as a failed sign-in (so a borrowed session cannot guess it freely)."""
    user = db.session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise Forbidden("Only a signed-in person can change their password.")
    attempt = _begin_attempt(user.email, ip)
    if not check_password_hash(user.password_hash, current or ""):
        _record_failure(user.email, user)
        raise Invalid("Your current password is wrong; the password was not changed.", code="wrong_password")
    _end_attempt(attempt)
    check_new_password(new)
    _advance_generation(user.id)  # in SQL: a "sign out everywhere" at the same moment is not swallowed
    user.password_hash = hash_password(new)
    audit.record(actor, "account.password_changed", "user", user.id, {})
    db.session.commit()
    return user


def workspace_members(actor: Actor) -> Sequence[Membership]:
    """The members of the actor's workspace, for its admins."""
    actor.require(Role.admin, "see the members")
    return db.session.scalars(
        select(Membership).join(User).where(Membership.workspace_id == actor.workspace_id).order_by(User.email)
    ).all()
