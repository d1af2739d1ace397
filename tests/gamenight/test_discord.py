"""Link Discord and Sign in with Discord through OAuth2 + PKCE, against a fake Discord (tests/fake_discord.py).

Every failure is a clear page (4xx, or 502 when Discord fails), never a 500, and writes nothing; the
access token is revoked at once and is found nowhere: not in the session, the database or the logs."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from tests.fake_discord import NELLY, FakeDiscord
from webapp.audit.models import AuditEvent
from webapp.extensions import utcnow
from webapp.gamenight import discord, players
from webapp.gamenight.models import PlayerProfile, PresenceReport
from webapp.notify.models import Channel, Contact

CALLBACK = "http://localhost/auth/discord/callback"  # the test client's host
EMAIL = "nelly@example.com"


@pytest.fixture
def fake(app, httpserver, monkeypatch) -> FakeDiscord:
    """Discord configured for this test, pointing at the fake; the allowlist holds the test client's callback."""
    provider = FakeDiscord(httpserver)
    monkeypatch.setitem(app.config, "SETTINGS", provider.settings_for(app, f"https://desk.example/cb, {CALLBACK}"))
    return provider


@pytest.fixture
def nelly(factories, auth):
    member = factories.user("viewer", "Acme", email=EMAIL)
    auth.login(EMAIL)
    return member


def _count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _start(auth, url="/profile/discord/link") -> str:
    started = auth.get(url)
    assert started.status_code == 302, started.get_data(as_text=True)
    assert started.headers["Cache-Control"] == "no-store"
    return started.headers["Location"]


def _callback(auth, fake, url="/profile/discord/link", user=None):
    return auth.get(fake.approve(_start(auth, url), user))


def _flow(client) -> dict:
    with client.session_transaction() as session:
        return dict(session.get("discord_oauth") or {})


def _confirm_form(page: str) -> dict:
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "replacing": re.search(r'name="replacing" value="([^"]*)"', page).group(1)}


def _nothing_linked(db) -> bool:
    return _count(db, Contact) == 0 and _count(db, PlayerProfile) == 0


def _nav(response) -> str:
    return response.get_data(as_text=True).split("<main")[0]


def _everything_stored(db) -> str:
    from webapp.extensions import db as _db

    return "\n".join(repr(db.session.execute(select(table)).all()) for table in _db.metadata.sorted_tables)


# -- linking ------------------------------------------------------------------------------------


def test_link_discord_creates_the_player_from_a_suggested_game_name_and_keeps_no_token(
        auth, client, nelly, fake, factories, db, caplog):
    caplog.set_level(logging.DEBUG)
    other = factories.user("viewer", "Acme", email="other@example.com")
    players.save_profile(other, players.PlayerCommand(display_name="Zed", aliases="nellyb2"))
    db.session.add(PresenceReport(workspace_id=nelly.workspace_id, source="game_server",
                                  present=["NellyB_", "nellyb2", "Zorro", "Zed"]))
    db.session.commit()
    assert "nav-link-badge" in _nav(auth.get("/profile"))

    authorize = _start(auth)
    flow = _flow(client)
    assert fake.last_authorize == {} and flow["purpose"] == "link" and flow["redirect_uri"] == CALLBACK
    answer = auth.get(fake.approve(authorize))
    assert fake.last_authorize["redirect_uri"] == CALLBACK and fake.last_authorize["prompt"] == "consent"
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/profile/discord/confirm")
    assert _count(db, Contact) == 0 and players.profile(nelly.workspace_id, nelly.user_id) is None  # not yet

    page = auth.get("/profile/discord/confirm").get_data(as_text=True)
    assert "Nelly Bly (@nellyb)" in page
    offered = re.findall(r'type="radio" name="display_name" value="([^"]+)"', page)
    assert offered == ["Nelly Bly", "nellyb", "nelly", "NellyB_"]  # Discord, e-mail, then the game server's match
    assert "Zorro" not in page and "nellyb2" not in page  # no match; another member's alias
    done = auth.post("/profile/discord/confirm", data={**_confirm_form(page), "display_name": "NellyB_"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/profile")

    contact = db.session.scalar(select(Contact))
    assert (contact.user_id, contact.channel, contact.external_id) == (nelly.user_id, Channel.discord, NELLY["id"])
    assert contact.confirmed_at is not None and contact.target_sealed is None
    assert contact.oauth_verified_at == contact.confirmed_at  # Discord proved it: this contact may sign in
    assert players.profile(nelly.workspace_id, nelly.user_id).display_name == "NellyB_"
    assert players.is_linked(nelly.workspace_id, nelly.user_id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "contact.linked"))
    assert event.actor_id == nelly.user_id and event.details == {
        "channel": "discord", "via": "oauth", "user_id": nelly.user_id, "replaced": False}
    profile = auth.get("/profile").get_data(as_text=True)
    assert "is linked to your player NellyB_" in profile and "nav-link-badge" not in _nav(auth.get("/processes"))
    assert "Change Discord" in profile

    access, refresh = fake.issued
    assert fake.revoked == [access]  # revoked as soon as @me answered
    with client.session_transaction() as session:
        kept = json.dumps(dict(session), default=str)
    assert "discord_oauth" not in kept and "discord_pending" not in kept
    stored = _everything_stored(db)
    for secret in (access, refresh, fake.token_calls[0]["code_verifier"]):
        assert secret not in kept and secret not in stored and secret not in caplog.text


def test_a_member_with_a_player_confirms_it_and_may_rename_it(auth, nelly, fake, db):
    players.save_profile(nelly, players.PlayerCommand(display_name="Nelly", aliases="nb#1"))
    _callback(auth, fake)
    page = auth.get("/profile/discord/confirm").get_data(as_text=True)
    assert "Link to Nelly" in page and 'type="radio"' not in page
    assert auth.post("/profile/discord/confirm", data={**_confirm_form(page), "display_name": "Nelly B"}
                     ).status_code == 303
    player = players.profile(nelly.workspace_id, nelly.user_id)
    assert (player.display_name, player.aliases) == ("Nelly B", ["nb#1"])
    assert db.session.scalar(select(Contact.external_id)) == NELLY["id"]


def test_change_replaces_the_linked_discord_account_and_its_old_delivery_target(auth, nelly, fake, db):
    players.save_profile(nelly, players.PlayerCommand(display_name="Nelly", aliases=""))
    old = Contact(workspace_id=nelly.workspace_id, user_id=nelly.user_id, channel=Channel.discord,
                  external_id="111", confirmed_at=utcnow())
    from webapp.notify import contacts

    contacts.set_target(old, "json://relay.example/hook/4821")
    db.session.add(old)
    db.session.commit()
    _callback(auth, fake)
    page = auth.get("/profile/discord/confirm").get_data(as_text=True)
    assert "<strong>changes</strong>" in page and "<code>111</code>" in page and "json://…4821" in page
    form = _confirm_form(page)
    assert form["replacing"] == "111"
    stale = auth.post("/profile/discord/confirm", data={**form, "replacing": "", "display_name": "Nelly"})
    assert stale.status_code == 409 and "changed since you opened this page" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Contact.external_id)) == "111"
    assert auth.post("/profile/discord/confirm", data={**form, "display_name": "Nelly"}).status_code == 303
    db.session.expire_all()
    contact = db.session.scalar(select(Contact))
    assert (contact.id, contact.external_id) == (old.id, NELLY["id"])
    assert (contact.target_sealed, contact.target_hint) == (None, "")
    assert _count(db, Contact) == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "contact.linked"))
    assert event.details["replaced"] is True


def test_an_account_linked_to_another_member_is_a_409_at_the_callback_and_nothing_is_written(
        auth, client, nelly, fake, factories, db):
    factories.player(nelly.workspace_id, "mojca@example.com", external_id=NELLY["id"])
    before = _everything_stored(db)
    answer = _callback(auth, fake)
    assert answer.status_code == 409 and "already linked to another member" in answer.get_data(as_text=True)
    assert fake.revoked == fake.issued[:1]  # the token is revoked on failures too
    assert _everything_stored(db) == before
    assert auth.get("/profile/discord/confirm").status_code == 400  # nothing waits to be confirmed


def test_an_account_taken_between_the_callback_and_the_confirm_is_a_409_and_nothing_is_written(
        auth, nelly, fake, factories, db):
    _callback(auth, fake)
    page = auth.get("/profile/discord/confirm").get_data(as_text=True)
    mojca = factories.player(nelly.workspace_id, "mojca@example.com", external_id=NELLY["id"])
    answer = auth.post("/profile/discord/confirm", data={**_confirm_form(page), "display_name": "Nelly Bly"})
    assert answer.status_code == 409 and "already linked to another member" in answer.get_data(as_text=True)
    assert _count(db, Contact, Contact.user_id == nelly.user_id) == 0
    assert _count(db, PlayerProfile, PlayerProfile.user_id == nelly.user_id) == 0
    assert db.session.scalar(select(Contact.user_id)) == mojca
    assert _count(db, AuditEvent, AuditEvent.action == "contact.linked") == 0


def test_a_confirm_post_without_the_csrf_token_is_a_400_and_links_nothing(auth, client, nelly, fake, db):
    _callback(auth, fake)
    answer = client.post("/profile/discord/confirm", data={"display_name": "Nelly Bly", "replacing": ""})
    assert answer.status_code == 400 and "form expired" in answer.get_data(as_text=True)
    assert _nothing_linked(db)


def test_a_blank_name_is_a_422_on_the_confirm_page(auth, nelly, fake, db):
    _callback(auth, fake)
    page = auth.get("/profile/discord/confirm").get_data(as_text=True)
    answer = auth.post("/profile/discord/confirm", data={**_confirm_form(page), "display_name": "",
                                                         "custom_name": "x" * 81})
    assert answer.status_code == 422 and "display name of 1 to 80" in answer.get_data(as_text=True)
    assert 'name="replacing"' in answer.get_data(as_text=True) and _nothing_linked(db)


# -- the callback's checks ------------------------------------------------------------------------


def test_a_callback_with_another_state_is_a_400_and_never_reaches_discord(auth, nelly, fake, db):
    callback = fake.approve(_start(auth))
    answer = auth.get(re.sub(r"state=[^&]+", "state=forged", callback))
    assert answer.status_code == 400 and "state does not match" in answer.get_data(as_text=True)
    assert fake.token_calls == [] and _nothing_linked(db)
    assert auth.get(callback).status_code == 400  # the flow was used up by the failed attempt
    fake.approve(_start(auth))
    assert auth.get("/auth/discord/callback?code=abc&state=%C3%A9%00").status_code == 400  # not even ASCII


def test_a_callback_without_a_flow_in_this_browser_is_a_400(client, nelly, fake, db):
    answer = client.get(f"/auth/discord/callback?{urlencode({'code': 'abc', 'state': 'xyz'})}")
    assert answer.status_code == 400 and "started in this browser" in answer.get_data(as_text=True)
    assert fake.token_calls == [] and _nothing_linked(db)


def test_a_flow_that_lost_its_pkce_verifier_is_a_400(auth, client, nelly, fake, db):
    callback = fake.approve(_start(auth))
    with client.session_transaction() as session:
        flow = dict(session["discord_oauth"])
        del flow["verifier"]
        session["discord_oauth"] = flow
    answer = auth.get(callback)
    assert answer.status_code == 400 and "PKCE verifier" in answer.get_data(as_text=True)
    assert fake.token_calls == [] and _nothing_linked(db)


def test_an_expired_flow_is_a_400(auth, client, nelly, fake, db):
    callback = fake.approve(_start(auth))
    with client.session_transaction() as session:
        session["discord_oauth"] = {**session["discord_oauth"], "expires": 1}
    answer = auth.get(callback)
    assert answer.status_code == 400 and "10 minutes" in answer.get_data(as_text=True)
    assert fake.token_calls == []


def test_discords_error_answer_is_a_clear_page(auth, client, nelly, fake, db):
    _start(auth)
    state = _flow(client)["state"]
    answer = auth.get(f"/auth/discord/callback?{urlencode({'error': 'access_denied', 'state': state})}")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "you cancelled it" in text and "access_denied" in text
    weird = auth.get("/auth/discord/callback?error=%3Cscript%3Ealert(1)%3C/script%3E")
    assert weird.status_code == 400 and "<script>alert" not in weird.get_data(as_text=True)
    assert fake.token_calls == [] and _nothing_linked(db)


def test_a_redirect_uri_outside_the_allowlist_is_refused_before_anything_goes_to_discord(
        app, auth, client, nelly, fake, monkeypatch, db):
    from dataclasses import replace

    only_public = replace(app.config["SETTINGS"], DISCORD_REDIRECT_URIS="https://desk.example/auth/discord/callback")
    monkeypatch.setitem(app.config, "SETTINGS", only_public)
    answer = auth.get("/profile/discord/link")
    assert answer.status_code == 400 and "Redirect URI not allowed" in answer.get_data(as_text=True)
    assert "Location" not in answer.headers and _flow(client) == {}
    forged_host = client.get("/login/discord", base_url="http://evil.example")
    assert forged_host.status_code == 400 and "http://evil.example/auth/discord/callback" in forged_host.get_data(
        as_text=True)
    assert fake.last_authorize == {} and fake.token_calls == []


@pytest.mark.parametrize(("failure", "delay"), [
    ((500, "Internal Server Error"), 0.0),
    ((400, {"error": "invalid_grant", "error_description": "Invalid \"code\" in request."}), 0.0),
    ((429, "<html>slow down</html>"), 0.0),
    (None, 1.0),  # no answer within the timeout
])
def test_a_failing_token_exchange_is_a_502_and_writes_nothing(auth, nelly, fake, db, monkeypatch, failure, delay):
    monkeypatch.setattr(discord, "HTTP_TIMEOUT_SECONDS", 0.3)
    fake.token_failure, fake.token_delay = failure, delay
    answer = _callback(auth, fake)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 502 and "Discord did not complete the link" in text and "Nothing was changed" in text
    assert _nothing_linked(db) and fake.revoked == []


def test_the_token_exchange_proves_the_pkce_verifier(auth, client, nelly, fake, db):
    callback = fake.approve(_start(auth))
    with client.session_transaction() as session:  # a verifier that does not match the challenge
        session["discord_oauth"] = {**session["discord_oauth"], "verifier": "x" * 64}
    answer = auth.get(callback)
    assert answer.status_code == 502 and fake.token_calls[0]["code_verifier"] == "x" * 64
    assert fake.issued == [] and _nothing_linked(db)


def test_without_discord_sign_in_link_discord_gets_a_bot_link_code_and_the_oauth_routes_say_so(auth, client, nelly, db):
    for url in ("/profile/discord/link", "/login/discord", "/auth/discord/callback?code=a&state=b"):
        answer = auth.get(url)
        assert answer.status_code == 404 and "Discord is not set up on this server" in answer.get_data(as_text=True)
    link_code_button = re.compile(r'<form method="post" action="/profile/link-code"[^>]*>((?!</form>).)*'
                                  r">Link Discord</button>", re.DOTALL)
    for page in (auth.get("/profile").get_data(as_text=True), auth.get("/w/acme/availability").get_data(as_text=True)):
        assert "/profile/discord/link" not in page and len(list(link_code_button.finditer(page))) == 1
    shown = auth.post("/profile/link-code").get_data(as_text=True)
    code = shown.split("Send <strong><code>", 1)[1].split("</code>", 1)[0]
    assert f"on Discord <code>/link code:{code}</code>" in shown
    auth.logout()
    assert "Sign in with Discord" not in client.get("/login").get_data(as_text=True)


def test_the_entry_points_show_while_unlinked(auth, client, nelly, fake):
    availability = auth.get("/w/acme/availability").get_data(as_text=True)
    assert 'href="/profile/discord/link">Link Discord</a>' in availability
    assert 'href="/profile/discord/link">Link Discord</a>' in auth.get("/profile").get_data(as_text=True)
    auth.logout()
    login = client.get("/login?next=/profile").get_data(as_text=True)
    assert 'href="/login/discord?next=/profile">Sign in with Discord' in login


# -- sign-in ------------------------------------------------------------------------------------


def _proven_by_oauth(db) -> None:
    """As if each Discord contact had come through Link Discord (factories.player links like a bot)."""
    for contact in db.session.scalars(select(Contact).where(Contact.channel == Channel.discord)):
        contact.oauth_verified_at = contact.confirmed_at
    db.session.commit()


def test_sign_in_with_discord_opens_the_linked_members_workspace_and_honours_next(client, fake, factories, db):
    admin = factories.user("admin", "Acme")
    member_id = factories.player(admin.workspace_id, EMAIL, external_id=NELLY["id"])
    _proven_by_oauth(db)
    with client.session_transaction() as session:
        session["stale"] = "from before"
    start = client.get("/login/discord?next=/profile")
    assert start.status_code == 302
    assert _flow(client)["next"] == "/profile"
    answer = client.get(fake.approve(start.headers["Location"]))
    assert fake.last_authorize["prompt"] == "none"
    assert answer.status_code == 302 and answer.headers["Location"] == "/profile"
    with client.session_transaction() as session:
        assert "stale" not in session and "discord_oauth" not in session
        assert session["_user_id"].split(":")[0] == str(member_id)
    page = client.get("/profile")
    assert page.status_code == 200 and EMAIL in page.get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert event.details == {"via": "discord"} and event.actor_label == EMAIL
    assert fake.revoked == fake.issued[:1]


def test_an_offsite_next_is_ignored_at_sign_in(client, fake, factories, db):
    admin = factories.user("admin", "Acme")
    factories.player(admin.workspace_id, EMAIL, external_id=NELLY["id"])
    _proven_by_oauth(db)
    start = client.get("/login/discord?next=//evil.example/x")
    answer = client.get(fake.approve(start.headers["Location"]))
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_sign_in_with_a_discord_account_nobody_linked_is_a_403_that_explains(client, fake, factories, db):
    factories.user("viewer", "Acme", email=EMAIL)
    answer = client.get(fake.approve(client.get("/login/discord").headers["Location"]))
    text = answer.get_data(as_text=True)
    assert answer.status_code == 403 and "e-mail and" in text and "Link Discord" in text
    assert client.get("/profile").status_code == 302  # still signed out
    assert _count(db, AuditEvent, AuditEvent.action == "auth.login") == 0


def test_sign_in_with_an_account_linked_to_two_people_is_refused(client, fake, factories, db):
    acme = factories.user("admin", "Acme")
    other = factories.user("admin", "Globex")
    factories.player(acme.workspace_id, "one@example.com", external_id=NELLY["id"])
    factories.player(other.workspace_id, "two@example.com", external_id=NELLY["id"])
    _proven_by_oauth(db)
    answer = client.get(fake.approve(client.get("/login/discord").headers["Location"]))
    assert answer.status_code == 409 and "different people" in answer.get_data(as_text=True)
    assert client.get("/profile").status_code == 302


def test_a_discord_id_a_bot_linked_with_a_code_never_signs_in(client, fake, factories, db):
    """A bot only asserts an external id (whoever holds the bot token could name anyone's); Discord proves it."""
    admin = factories.user("admin", "Acme")
    member = factories.user("viewer", "Acme", email=EMAIL)
    players.save_profile(member, players.PlayerCommand(display_name="Nelly", aliases=""))
    code, _ = players.new_link_code(member)
    players.confirm_link(admin.workspace_id, players.LinkConfirmCommand(code=code, channel="discord",
                                                                     external_id=NELLY["id"]))
    answer = client.get(fake.approve(client.get("/login/discord").headers["Location"]))
    assert answer.status_code == 403 and client.get("/profile").status_code == 302


def test_odd_input_on_every_discord_route_is_a_4xx_never_a_500(auth, client, nelly, fake):
    odd = [{}, {"code": "", "state": ""}, {"code": "a" * 5000, "state": "s"}, {"error": "x" * 500},
           {"state": "\u00e9\u0000", "code": "\u2603"}, {"next": "//evil.example"}, {"next": "javascript:alert(1)"}]
    for query in odd:
        for url in ("/auth/discord/callback", "/profile/discord/confirm", "/login/discord", "/profile/discord/link"):
            assert auth.get(url, query_string=query).status_code < 500, (url, query)
        _start(auth)
        assert auth.get("/auth/discord/callback", query_string=query).status_code < 500, query
        posted = auth.post("/profile/discord/confirm", data={"display_name": ["a", "b"], "custom_name": "\u0000"})
        assert posted.status_code < 500
