"""Sign-in, workspace switching, environment keys and personal access tokens (HTML)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp import inputs
from webapp.accounts import services, signin
from webapp.accounts.context import current_actor, current_memberships
from webapp.accounts.models import Role, TokenKind
from webapp.errors import BadRequest, DomainError, NotFound, TooManyRequests, Unauthorized
from webapp.htmx import no_store, redirect_after_post, render_page, toast_or_redirect

bp = Blueprint("accounts", __name__)


@bp.app_context_processor
def inject_actor() -> dict[str, Any]:
    """`actor`, `workspace` and `memberships` for the layout (None/[] when nobody is signed in), and `Role`."""
    nobody = {"actor": None, "workspace": None, "memberships": [], "Role": Role}
    if not current_user.is_authenticated:
        return nobody
    try:
        actor = current_actor()
    except DomainError:  # signed in but in no workspace: the layout shows no nav
        return nobody
    return {"actor": actor, "workspace": g.workspace, "memberships": current_memberships(), "Role": Role}


def safe_next(target: str | None) -> str | None:
    """A relative path on this site, or None (no open redirects, no `//host` or `/\\host`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    next_url = request.values.get("next", "")
    if request.method == "GET":
        return render_template("accounts/login.html", next_url=next_url, email="")
    email = request.form.get("email", "")
    try:
        user = signin.authenticate(email, request.form.get("password", ""), request.remote_addr)
    except (Unauthorized, TooManyRequests) as exc:
        return Response(render_template("accounts/login.html", next_url=next_url, email=email, error=exc.message),
                        exc.status, exc.headers)
    session.clear()  # a fresh session (and CSRF token) at sign-in: nothing from before survives
    login_user(user)
    first = services.memberships(user.id)
    if first:
        session["workspace_id"] = first[0].workspace_id
    return redirect(safe_next(next_url) or url_for("desk.index"))


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        signin.sign_out(current_user.id)  # a copy of this cookie must not sign in afterwards
    logout_user()
    session.pop("workspace_id", None)  # the next sign-in renews the whole session anyway
    flash("You are signed out.")
    return redirect(url_for("accounts.login"))


@bp.post("/workspaces/switch")
@login_required
def switch_workspace() -> Response:
    try:
        workspace_id = inputs.whole_number(request.form.get("workspace_id"), "workspace_id")
    except BadRequest:
        raise NotFound("No such workspace.") from None
    membership = services.membership(current_user.id, workspace_id)
    if membership is None:
        raise NotFound("You are not a member of that workspace.")
    session["workspace_id"] = membership.workspace_id
    flash(f"Now working in {membership.workspace.name}.")
    return redirect(safe_next(urlsplit(request.referrer or "").path) or url_for("desk.index"))


# -- the account: password and sessions --------------------------------------------------------


def _account_page(status: int = 200, error: DomainError | None = None) -> Response:
    current_actor()
    response = render_page("accounts/account.html", "account", status=status, error=error)
    return no_store(response)


def _renew_session(user: Any) -> None:
    """This browser stays signed in with a fresh session (and CSRF token) of the new generation."""
    workspace_id = session.get("workspace_id")
    session.clear()
    login_user(user)
    if workspace_id is not None:
        session["workspace_id"] = workspace_id


@bp.get("/account")
@login_required
def account() -> Response:
    return _account_page()


@bp.post("/account/password")
@login_required
def change_password() -> Response:
    try:
        user = signin.change_password(current_actor(), request.form.get("current_password", ""),
                                        request.form.get("new_password", ""), request.remote_addr)
    except DomainError as exc:
        return _account_page(exc.status, exc)
    _renew_session(user)
    flash("Password changed. You are signed out everywhere else.")
    return redirect(url_for("accounts.account"), code=303)


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere() -> Response:
    signin.sign_out_everywhere(current_actor())
    return _signed_out_here()


def _signed_out_here() -> Response:
    """After ending all of one's own sessions: this browser's goes too, to the login page."""
    logout_user()
    session.clear()  # the flash below lands in a fresh session
    flash("You are signed out everywhere, in this browser too.")
    return redirect_after_post(url_for("accounts.login"))


@bp.get("/settings/members")
@login_required
def members() -> Response:
    return render_page("accounts/members.html", "members", members=signin.workspace_members(current_actor()))


@bp.post("/settings/members/<int:user_id>/sign-out")
@login_required
def sign_out_member(user_id: int) -> Response:
    actor = current_actor()
    user = signin.sign_out_member(actor, user_id)
    if user.id == actor.user_id:
        return _signed_out_here()
    return toast_or_redirect(members, f"{user.email} is signed out everywhere.", url_for("accounts.members"),
                             code=303)


# -- environment keys and personal access tokens ------------------------------------------------

PAGES = {
    TokenKind.environment: ("accounts/keys.html", "accounts.keys"),
    TokenKind.personal: ("accounts/tokens.html", "accounts.tokens"),
}


def _tokens_page(kind: TokenKind, created: Any = None, plaintext: str | None = None) -> Response:
    actor = current_actor()
    template, _ = PAGES[kind]
    response = render_page(template, "tokens", tokens=services.list_tokens(actor, kind),
                           created=created, plaintext=plaintext)
    return no_store(response) if plaintext else response


def _revoked(kind: TokenKind, token: Any) -> Response:
    return toast_or_redirect(lambda: _tokens_page(kind), f"Revoked “{token.name}” ({token.prefix}…).",
                             url_for(PAGES[kind][1]))


@bp.get("/settings/keys")
@login_required
def keys() -> Response:
    return _tokens_page(TokenKind.environment)


@bp.post("/settings/keys")
@login_required
def create_key() -> Response:
    token, plaintext = services.create_environment_key(
        current_actor(), request.form.get("environment", ""), request.form.get("name", ""))
    return _tokens_page(TokenKind.environment, token, plaintext)


@bp.post("/settings/keys/<int:token_id>/revoke")
@login_required
def revoke_key(token_id: int) -> Response:
    return _revoked(TokenKind.environment, services.revoke_token(current_actor(), token_id, TokenKind.environment))


@bp.get("/settings/tokens")
@login_required
def tokens() -> Response:
    return _tokens_page(TokenKind.personal)


@bp.post("/settings/tokens")
@login_required
def create_token() -> Response:
    token, plaintext = services.create_personal_token(current_actor(), request.form.get("name", ""))
    return _tokens_page(TokenKind.personal, token, plaintext)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_personal_token(token_id: int) -> Response:
    return _revoked(TokenKind.personal, services.revoke_token(current_actor(), token_id, TokenKind.personal))
