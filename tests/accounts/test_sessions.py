"""Sessions that end (sign-out, password change, sign out everywhere, deletion) and sign-in throttling."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from webapp.accounts import signin
from webapp.accounts.models import LoginFailure, User
from webapp.audit.models import AuditEvent
from webapp.extensions import db as _db

NEW_PASSWORD = "a-brand-new-passphrase"


def _copy_of_the_cookie(app, client):
    """A second browser holding a copy of `client`'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _signed_in(browser) -> bool:
    return browser.get("/settings/tokens").status_code == 200


def _csrf(browser, path: str = "/account") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


# -- old cookies refused --------------------------------------------------------------------------


def test_a_cookie_copied_before_sign_out_does_not_sign_in_afterwards(app, auth, client, factories):
    member = factories.user("viewer")
    auth.login(member.label)
    thief = _copy_of_the_cookie(app, client)
    assert _signed_in(thief)
    auth.logout()
    assert not _signed_in(thief)
    assert not _signed_in(client)


def test_a_password_change_ends_other_sessions_and_keeps_this_browser_signed_in(app, auth, client, db, factories):
    member = factories.user("viewer")
    auth.login(member.label)
    thief = _copy_of_the_cookie(app, client)
    answer = auth.post("/account/password", data={"current_password": factories.PASSWORD,
                                                  "new_password": NEW_PASSWORD})
    assert answer.status_code == 303
    auth._csrf = None  # the session (and its CSRF token) was renewed, as at sign-in
    assert _signed_in(client)
    assert not _signed_in(thief)
    assert check_password_hash(db.session.get(User, member.user_id).password_hash, NEW_PASSWORD)
    auth.logout()
    assert auth.login(member.label).status_code == 401  # the old password no longer works
    assert auth.login(member.label, NEW_PASSWORD).status_code == 302
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.resource_id == str(member.user_id)))
    assert "account.password_changed" in list(events)


def test_a_password_change_renews_the_session_so_the_old_csrf_token_dies(auth, factories):
    member = factories.user("viewer")
    auth.login(member.label)
    old_token = _csrf(auth.client)
    auth.client.post("/account/password", data={"csrf_token": old_token, "current_password": factories.PASSWORD,
                                                "new_password": NEW_PASSWORD})
    assert auth.client.post("/settings/tokens", data={"csrf_token": old_token}).status_code == 400


@pytest.mark.parametrize("current, new, message", [
    ("wrong-password", NEW_PASSWORD, "current password is wrong"),
    (None, "short", "at least 8 characters"),
])
def test_a_refused_password_change_is_422_changes_nothing_and_ends_no_session(app, auth, client, db, factories,
                                                                              current, new, message):
    member = factories.user("viewer")
    auth.login(member.label)
    thief = _copy_of_the_cookie(app, client)
    answer = auth.post("/account/password", data={"current_password": current or factories.PASSWORD,
                                                  "new_password": new})
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    assert check_password_hash(db.session.get(User, member.user_id).password_hash, factories.PASSWORD)
    assert _signed_in(client) and _signed_in(thief)


def test_wrong_current_passwords_count_as_failed_sign_ins(app, auth, factories):
    member = factories.user("viewer")
    auth.login(member.label)
    for _ in range(app.config["SETTINGS"].LOGIN_MAX_FAILURES):
        auth.post("/account/password", data={"current_password": "guess", "new_password": NEW_PASSWORD})
    answer = auth.post("/account/password", data={"current_password": factories.PASSWORD,
                                                  "new_password": NEW_PASSWORD})
    assert answer.status_code == 429


def test_sign_out_everywhere_ends_every_session_of_the_account(app, auth, client, db, factories):
    member = factories.user("viewer")
    auth.login(member.label)
    thief = _copy_of_the_cookie(app, client)
    answer = auth.post("/account/sign-out-everywhere")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/login")
    assert not _signed_in(thief)
    assert not _signed_in(client)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.signed_out_everywhere"))


def test_an_admin_signs_a_member_out_everywhere_and_it_is_audited(app, auth, client, db, factories):
    admin = factories.user("admin", "Acme")
    member = factories.user("editor", "Acme")
    auth.login(member.label)
    members_browser = _copy_of_the_cookie(app, client)
    client.delete_cookie("session")
    auth.login(admin.label)
    assert member.label in auth.get("/settings/members").get_data(as_text=True)
    answer = auth.post(f"/settings/members/{member.user_id}/sign-out", htmx=True)
    assert answer.status_code == 200 and "toast" in answer.headers["HX-Trigger"]
    assert not _signed_in(members_browser)
    assert _signed_in(client)  # the admin's own session is not touched
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.signed_out_everywhere"))
    assert event.actor_id == admin.user_id and event.resource_id == str(member.user_id)


def test_an_admin_cannot_sign_out_a_member_of_another_workspace(app, auth, client, factories):
    stranger = factories.user("viewer", "Initech")
    auth.login(stranger.label)
    strangers_browser = _copy_of_the_cookie(app, client)
    client.delete_cookie("session")
    auth.login(factories.user("admin", "Acme").label)
    assert auth.post(f"/settings/members/{stranger.user_id}/sign-out").status_code == 404
    assert _signed_in(strangers_browser)


@pytest.mark.parametrize("role", ["viewer", "editor", "promoter"])
def test_below_admin_cannot_sign_other_members_out(app, auth, client, factories, role):
    other = factories.user("viewer", "Acme")
    auth.login(other.label)
    others_browser = _copy_of_the_cookie(app, client)
    client.delete_cookie("session")
    auth.login(factories.user(role, "Acme").label)
    assert auth.post(f"/settings/members/{other.user_id}/sign-out").status_code == 403
    assert _signed_in(others_browser)


def test_a_cookie_copied_before_account_deletion_does_not_sign_in_afterwards(app, auth, client, factories):
    factories.user("admin", "Acme", email="boss@example.com")
    member = factories.user("viewer", "Acme")
    auth.login(member.label)
    thief = _copy_of_the_cookie(app, client)
    assert auth.post("/profile/delete", data={"confirm_email": member.label}).status_code == 303
    assert not _signed_in(thief)


# -- sign-in throttling ---------------------------------------------------------------------------


def _login_from(client, ip: str, email: str, password: str):
    page = client.get("/login", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def test_a_strangers_failed_attempts_from_another_ip_do_not_lock_the_member_out(app, client, factories):
    member = factories.user("viewer")
    for _ in range(app.config["SETTINGS"].LOGIN_MAX_FAILURES * 2):
        assert _login_from(client, "203.0.113.9", member.label, "guess").status_code in (401, 429)
    assert _login_from(client, "203.0.113.9", member.label, factories.PASSWORD).status_code == 429
    assert _login_from(client, "198.51.100.7", member.label, factories.PASSWORD).status_code == 302


def test_one_client_is_stopped_after_the_per_ip_cap_across_addresses(app, client, factories):
    settings = app.config["SETTINGS"]
    member = factories.user("viewer")
    for n in range(settings.LOGIN_MAX_FAILURES_PER_IP):  # never the same address twice: no pair lock
        assert _login_from(client, "203.0.113.9", f"nobody{n}@example.com", "guess").status_code == 401
    answer = _login_from(client, "203.0.113.9", member.label, factories.PASSWORD)
    assert answer.status_code == 429 and "from your network" in answer.get_data(as_text=True)
    assert _login_from(client, "198.51.100.7", member.label, factories.PASSWORD).status_code == 302


def test_past_the_per_address_cap_a_client_that_guessed_there_is_locked_but_a_clean_one_signs_in(app, client,
                                                                                                 factories):
    settings = app.config["SETTINGS"]
    member = factories.user("viewer")
    for n in range(settings.LOGIN_MAX_FAILURES_PER_ADDRESS):  # a new IP before each pair lock
        ip = f"10.0.{n // settings.LOGIN_MAX_FAILURES}.1"
        assert _login_from(client, ip, member.label, "guess").status_code == 401
    assert _login_from(client, "198.51.100.8", member.label, "guess").status_code == 401  # one more machine guesses
    assert _login_from(client, "198.51.100.8", member.label, factories.PASSWORD).status_code == 429
    assert _login_from(client, "198.51.100.7", member.label, factories.PASSWORD).status_code == 302  # the member


def test_an_attempt_is_counted_before_its_password_is_checked_so_parallel_guesses_cannot_slip_under(
        app, client, factories, monkeypatch):
    member = factories.user("viewer")
    counted: list[int] = []
    real_check = signin.check_password_hash

    def spy(stored: str, password: str) -> bool:
        counted.append(_db.session.scalar(select(func.count()).select_from(LoginFailure)))
        return real_check(stored, password)

    monkeypatch.setattr(signin, "check_password_hash", spy)
    assert _login_from(client, "203.0.113.9", member.label, "guess").status_code == 401
    assert _login_from(client, "203.0.113.9", member.label, factories.PASSWORD).status_code == 302
    assert counted == [1, 2]  # each attempt was a row while its hash ran
    assert _db.session.scalar(select(func.count()).select_from(LoginFailure)) == 1  # the success is no failure


def test_an_unknown_email_is_checked_against_the_dummy_hash_like_a_known_one(app, client, factories, monkeypatch):
    member = factories.user("viewer")
    checked: list[str] = []
    real_check = signin.check_password_hash

    def spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real_check(stored, password)

    monkeypatch.setattr(signin, "check_password_hash", spy)
    assert _login_from(client, "203.0.113.9", member.label, "guess").status_code == 401
    assert _login_from(client, "203.0.113.9", "nobody@example.com", "guess").status_code == 401
    assert _login_from(client, "203.0.113.9", "nobody-else@example.com", "guess").status_code == 401
    method = app.config["SETTINGS"].PASSWORD_HASH_METHOD
    dummy = signin.dummy_password_hash(method)
    assert checked == [db_hash(member), dummy, dummy]  # one check each; the dummy made once
    assert dummy.startswith(method + "$")


def db_hash(actor) -> str:
    from webapp.extensions import db

    return db.session.get(User, actor.user_id).password_hash
