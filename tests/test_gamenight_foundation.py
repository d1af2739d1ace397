"""Game nights, the first part: quiet hours, preferences, linking chat accounts through the bot,
the availability page and the bots' availability API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from webapp.errors import BadRequest
from webapp.gamenight import services as gamenight
from webapp.gamenight.models import Availability, Status
from webapp.notify import services as notify
from webapp.notify.models import Contact, Preference

# -- quiet hours --------------------------------------------------------------------------------


@pytest.mark.parametrize(("quiet", "clock", "expected"), [
    ("22:00-08:00", time(22, 0), True), ("22:00-08:00", time(23, 59), True), ("22:00-08:00", time(0, 0), True),
    ("22:00-08:00", time(7, 59), True), ("22:00-08:00", time(8, 0), False), ("22:00-08:00", time(21, 59), False),
    ("22:00-08:00", time(12, 0), False), ("13:00-14:30", time(13, 0), True), ("13:00-14:30", time(14, 29), True),
    ("13:00-14:30", time(14, 30), False), ("13:00-14:30", time(12, 59), False), (None, time(3, 0), False),
    ("00:00-23:59", time(23, 58), True), ("23:59-00:00", time(23, 59), True), ("23:59-00:00", time(0, 0), False),
])
def test_quiet_hours_start_inclusive_end_exclusive_and_overnight_ranges_wrap(quiet, clock, expected):
    assert notify.in_quiet_hours(quiet, clock) is expected


@pytest.mark.parametrize("text", ["22-08", "22:00", "22:00-8:00", "24:00-08:00", "22:60-08:00", "22:00 - 08:00",
                                  "10:00-10:00", "ab:cd-ef:gh", "22:00-08:00-09:00"])
def test_an_invalid_quiet_hours_value_is_a_400_saying_the_expected_format(text):
    with pytest.raises(BadRequest) as caught:
        notify.parse_quiet_hours(text)
    assert "HH:MM-HH:MM" in caught.value.message and caught.value.status == 400


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def bot(client, factories):
    """The Acme workspace's bot: bot.post(url, body)."""
    admin = factories.user("admin", "Acme", email="boss@example.com")
    token = gamenight.rotate_bot_token(admin)

    class Bot:
        def __init__(self) -> None:
            self.headers = {"Authorization": f"Bearer {token}"}

        def post(self, url: str, body: dict):
            return client.post(url, headers=self.headers, json=body)

    return Bot()


def _link(auth, bot, email: str, external_id: str, *, name: str = "Jana", channel: str = "discord",
          target: str | None = "json://relay.example/hook/4821"):
    """Sign in as `email`, save a player, get a code from the page, let the bot confirm it."""
    auth.login(email)
    auth.post("/profile/player", data={"display_name": name, "aliases": "jana#1"})
    page = auth.post("/profile/link-code").get_data(as_text=True)
    code = page.split('community\'s bot (for example <code>!link ', 1)[1].split("</code>", 1)[0]
    body = {"code": code, "channel": channel, "external_id": external_id}
    if target:
        body["target"] = target
    return bot.post("/api/v1/link/confirm", body)


# -- linking ------------------------------------------------------------------------------------


def test_a_member_links_a_chat_account_with_a_one_time_code(auth, bot, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    answer = _link(auth, bot, "jana@example.com", "1111")
    assert answer.status_code == 200
    assert answer.get_json() == {"linked": True, "channel": "discord", "player": "Jana", "has_player_profile": True}
    contact = db.session.scalar(select(Contact))
    assert contact.user_id == member.user_id and contact.confirmed_at is not None
    assert contact.target_hint == "json://…4821" and "relay.example" not in contact.target_sealed
    assert gamenight.is_linked(member.workspace_id, member.user_id)
    page = auth.get("/profile").get_data(as_text=True)
    assert "json://…4821" in page and "relay.example" not in page


def test_a_code_works_once_and_not_after_ten_minutes(auth, bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/player", data={"display_name": "Jana"})
    actor = factories.user("viewer", "Acme", email="old@example.com")
    code, expires = gamenight.new_link_code(actor)
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    assert bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram", "external_id": "7"}).status_code == 200
    again = bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram", "external_id": "7"})
    assert again.status_code == 404 and again.get_json()["error"] == "link_code_invalid"
    code, _ = gamenight.new_link_code(actor)
    from webapp.gamenight.models import LinkCode

    db.session.scalar(select(LinkCode).where(LinkCode.used_at.is_(None))).expires_at = datetime.now(UTC)
    db.session.commit()
    assert bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram",
                                             "external_id": "8"}).status_code == 404


def test_an_identity_linked_to_another_member_is_a_409_and_unlink_lets_it_move(auth, bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    factories.user("viewer", "Acme", email="miha@example.com")
    assert _link(auth, bot, "jana@example.com", "1111").status_code == 200
    auth.logout()
    taken = _link(auth, bot, "miha@example.com", "1111", name="Miha")
    assert taken.status_code == 409 and taken.get_json()["error"] == "identity_taken"
    assert "already linked to another member" in taken.get_json()["message"]
    auth.logout()
    auth.login("jana@example.com")
    contact = db.session.scalar(select(Contact))
    assert auth.post(f"/profile/contacts/{contact.id}/unlink").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
    auth.logout()
    assert _link(auth, bot, "miha@example.com", "1111", name="Miha").status_code == 200


def test_a_second_account_on_the_same_channel_must_replace_the_first_by_unlinking(auth, bot, factories):
    factories.user("viewer", "Acme", email="jana@example.com")
    assert _link(auth, bot, "jana@example.com", "1111").status_code == 200
    second = _link(auth, bot, "jana@example.com", "2222")
    assert second.status_code == 409 and second.get_json()["error"] == "channel_taken"


@pytest.mark.parametrize(("body", "status"), [
    ({"code": "", "channel": "discord", "external_id": "1"}, 400),
    ({"code": "ABCD", "channel": "irc", "external_id": "1"}, 400),
    ({"code": "ABCD", "channel": "discord", "external_id": ""}, 400),
    ({"code": "ABCD", "channel": "discord", "external_id": "1"}, 404),
])
def test_bad_link_confirmations_are_4xx_and_write_nothing(bot, db, body, status):
    assert bot.post("/api/v1/link/confirm", body).status_code == status
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_target_that_is_not_an_apprise_url_for_the_channel_is_a_400_and_never_echoed(auth, bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    answer = _link(auth, bot, "jana@example.com", "1111", target="https://secret.example/abc")
    assert answer.status_code == 400 and "secret.example" not in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_the_bot_api_needs_the_workspaces_current_bot_token(client, factories):
    admin = factories.user("admin", "Acme")
    old = gamenight.rotate_bot_token(admin)
    new = gamenight.rotate_bot_token(admin)
    body = {"channel": "discord", "external_id": "1", "date": "today", "status": "available"}
    assert client.post("/api/v1/availability", json=body).status_code == 401
    assert client.post("/api/v1/availability", json=body, headers={"Authorization": f"Bearer {old}"}).status_code == 401
    answer = client.post("/api/v1/availability", json=body, headers={"Authorization": f"Bearer {new}"})
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_linked"
    assert "link code" in answer.get_json()["message"]


# -- preferences --------------------------------------------------------------------------------


def test_members_are_opted_out_until_they_opt_in(factories):
    member = factories.user("viewer", "Acme")
    assert notify.preference(member.workspace_id, member.user_id).opted_in is False


def test_preferences_are_saved_and_a_bad_quiet_hours_value_is_a_400_saving_nothing(auth, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    ok = auth.post("/profile/preferences", data={"opted_in": "on", "channel_order": ["telegram", "discord"],
                                                 "quiet_hours": "23:00-07:30"})
    assert ok.status_code == 303
    pref = db.session.get(Preference, (member.workspace_id, member.user_id))
    assert (pref.opted_in, pref.channel_order, pref.quiet_hours) == (True, ["telegram", "discord"], "23:00-07:30")
    bad = auth.post("/profile/preferences", data={"quiet_hours": "11pm-7am"})
    assert bad.status_code == 400 and "HH:MM-HH:MM" in bad.get_data(as_text=True)
    db.session.expire_all()
    pref = db.session.get(Preference, (member.workspace_id, member.user_id))
    assert (pref.opted_in, pref.quiet_hours) == (True, "23:00-07:30")


# -- availability -------------------------------------------------------------------------------


def test_today_is_the_workspaces_local_date(factories, db):
    from webapp.accounts.models import Workspace

    factories.user("admin", "Acme")
    ws = db.session.scalar(select(Workspace))
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # already the 29th in Ljubljana (UTC+1)
    assert gamenight.local_today(ws, late) == date(2026, 3, 29)
    assert gamenight.parse_day(ws, "tomorrow", late) == date(2026, 3, 30)
    ws.time_zone = "America/Los_Angeles"
    assert gamenight.local_today(ws, late) == date(2026, 3, 28)
    assert gamenight.parse_day(ws, "2026-04-01", late) == date(2026, 4, 1)
    with pytest.raises(BadRequest):
        gamenight.parse_day(ws, "next week", late)


def test_a_linked_member_sets_and_clears_a_status_with_one_click_and_sees_names(auth, bot, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    _link(auth, bot, "jana@example.com", "1111")
    today = gamenight.local_today(gamenight.workspace(member.workspace_id)).isoformat()
    fragment = auth.post("/w/acme/availability", htmx=True, data={"day": today, "status": "looking"})
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and 'id="availability-panels"' in html
    assert "Jana" in html and 'aria-pressed="true"' in html
    row = db.session.scalar(select(Availability))
    assert (row.user_id, row.day.isoformat(), row.status) == (member.user_id, today, Status.looking)
    auth.post("/w/acme/availability", htmx=True, data={"day": today, "status": "clear"})
    assert db.session.scalar(select(func.count()).select_from(Availability)) == 0


def test_anonymous_and_unlinked_visitors_see_counts_only_with_a_call_to_link(client, auth, bot, factories):
    jana = factories.user("viewer", "Acme", email="jana@example.com")
    _link(auth, bot, "jana@example.com", "1111", name="Jana Secretname")
    ws = gamenight.workspace(jana.workspace_id)
    gamenight.set_status(ws.id, jana.user_id, gamenight.local_today(ws), Status.available, actor_label="test")
    auth.logout()
    anonymous = client.get("/w/acme/availability").get_data(as_text=True)
    assert "Secretname" not in anonymous and "Link your account to set availability" in anonymous
    assert "<strong>1</strong> available" in anonymous and "status-buttons" not in anonymous
    factories.user("viewer", "Acme", email="new@example.com")
    auth.login("new@example.com")
    unlinked = auth.get("/w/acme/availability").get_data(as_text=True)
    assert "Secretname" not in unlinked and "Link your account to set availability" in unlinked
    refused = auth.post("/w/acme/availability", data={"day": "today", "status": "available"})
    assert refused.status_code == 409 and "Link your account" in refused.get_data(as_text=True)


def test_bots_set_and_clear_availability_through_the_same_service(auth, bot, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    _link(auth, bot, "jana@example.com", "1111")
    answer = bot.post("/api/v1/availability", {"channel": "discord", "external_id": "1111", "date": "tomorrow",
                                               "status": "maybe"})
    assert answer.status_code == 200
    tomorrow = gamenight.local_today(gamenight.workspace(member.workspace_id)) + timedelta(days=1)
    assert answer.get_json() == {"date": tomorrow.isoformat(), "status": "maybe"}
    assert db.session.scalar(select(Availability.status)) is Status.maybe
    cleared = bot.post("/api/v1/availability", {"channel": "discord", "external_id": "1111", "date": "tomorrow",
                                                "status": None})
    assert cleared.get_json()["status"] is None
    assert db.session.scalar(select(func.count()).select_from(Availability)) == 0


@pytest.mark.parametrize(("body", "status"), [
    ({"channel": "discord", "external_id": "1111", "date": "yesterday", "status": "maybe"}, 400),
    ({"channel": "discord", "external_id": "1111", "date": "2020-01-01", "status": "maybe"}, 400),
    ({"channel": "discord", "external_id": "1111", "date": "today", "status": "sleepy"}, 400),
    ({"channel": "discord", "external_id": "1111", "date": "today"}, 400),
    ({"channel": "discord", "external_id": "9999", "date": "today", "status": "maybe"}, 404),
])
def test_bad_bot_availability_calls_are_4xx_and_write_nothing(auth, bot, factories, db, body, status):
    factories.user("viewer", "Acme", email="jana@example.com")
    _link(auth, bot, "jana@example.com", "1111")
    assert bot.post("/api/v1/availability", body).status_code == status
    assert db.session.scalar(select(func.count()).select_from(Availability)) == 0


def test_no_json_answer_of_the_bot_api_contains_a_delivery_target(auth, bot, factories):
    factories.user("viewer", "Acme", email="jana@example.com")
    answers = [_link(auth, bot, "jana@example.com", "1111"),
               bot.post("/api/v1/availability", {"channel": "discord", "external_id": "1111", "status": "looking"})]
    for answer in answers:
        assert "relay.example" not in json.dumps(answer.get_json())


def test_the_calendar_opens_by_htmx_with_counts_per_day(auth, bot, factories):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    _link(auth, bot, "jana@example.com", "1111")
    ws = gamenight.workspace(member.workspace_id)
    day = gamenight.local_today(ws) + timedelta(days=2)
    gamenight.set_status(ws.id, member.user_id, day, Status.available, actor_label="test")
    html = auth.get("/w/acme/availability/calendar", htmx=True,
                    query_string={"month": day.strftime("%Y-%m")}).get_data(as_text=True)
    assert "<html" not in html and "1 ready" in html and "me: available" in html
    assert auth.get("/w/acme/availability/calendar", query_string={"month": "2026-13"}).status_code == 400


def test_another_workspaces_member_cannot_set_status_here(auth, factories):
    factories.user("viewer", "Acme")
    factories.user("viewer", "Globex", email="other@example.com")
    auth.login("other@example.com")
    assert auth.post("/w/acme/availability", data={"day": "today", "status": "available"}).status_code == 404
    assert auth.get("/w/no-such-workspace/availability").status_code == 404


def test_settings_are_for_admins_and_bad_values_are_400(auth, factories, db):
    boss = factories.user("admin", "Acme", email="boss@example.com")
    factories.user("promoter", "Acme", email="pat@example.com")
    auth.login("pat@example.com")
    assert auth.get("/settings/gamenight").status_code == 403
    auth.logout()
    auth.login("boss@example.com")
    for form in ({"time_zone": "Mars/Olympus", "game_start": "21:00", "lead_minutes": "15"},
                 {"time_zone": "Europe/Ljubljana", "game_start": "9pm", "lead_minutes": "15"},
                 {"time_zone": "Europe/Ljubljana", "game_start": "21:00", "lead_minutes": "0"}):
        assert auth.post("/settings/gamenight", data=form).status_code == 400
    ok = auth.post("/settings/gamenight", data={"time_zone": "Europe/London", "game_start": "20:30",
                                                "lead_minutes": "10"})
    assert ok.status_code == 303
    game = gamenight.settings(boss.workspace_id)
    assert (gamenight.workspace(boss.workspace_id).time_zone, game.game_start, game.lead_minutes) == ("Europe/London", "20:30", 10)
    shown = auth.post("/settings/gamenight/bot-token")
    assert shown.headers["Cache-Control"] == "no-store" and "pdb_" in shown.get_data(as_text=True)
    assert "pdb_" not in auth.get("/settings/gamenight").get_data(as_text=True).replace(
        f"{game.bot_token_prefix}…", "")


# -- e-mail contacts ------------------------------------------------------------------------------


@pytest.fixture
def mail(app, monkeypatch):
    """MAIL_URL points at a local sink standing in for the SMTP server."""
    from dataclasses import replace

    from tests.sink import Sink

    with Sink() as sink:
        monkeypatch.setitem(app.config, "SETTINGS", replace(app.config["SETTINGS"], MAIL_URL=sink.target("smtp")))
        yield sink


def _mailed_link(mail) -> str:
    body = mail.received("smtp")[-1]["message"]
    return "/contacts/email/confirm/" + body.split("/contacts/email/confirm/", 1)[1].split()[0]


def test_an_email_contact_is_confirmed_through_the_signed_link_it_was_mailed(auth, client, factories, db, worker,
                                                                             mail):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/player", data={"display_name": "Jana"})
    answer = auth.post("/profile/email", data={"email": "jana.home@example.org"}, follow_redirects=True)
    assert "We mailed a confirmation link to jana.home@example.org" in answer.get_data(as_text=True)
    contact = db.session.scalar(select(Contact).where(Contact.channel == "email"))
    assert contact.confirmed_at is None and not gamenight.is_linked(member.workspace_id, member.user_id)
    worker()  # the outbox effect mails the link (its job argument is the effect id only)
    link = _mailed_link(mail)
    auth.logout()  # opened from the mailbox: no session needed
    page = client.get(link)
    assert page.status_code == 200 and "Confirm jana.home@example.org" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).confirmed_at is None  # a GET (a mail scanner) confirms nothing
    confirmed = auth.post(link)
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.get_data(as_text=True)
    db.session.expire_all()
    contact = db.session.get(Contact, contact.id)
    assert contact.confirmed_at is not None and contact.target_hint == "mailto://j…@example.org"
    assert "smtp" not in contact.target_hint and gamenight.is_linked(member.workspace_id, member.user_id)


def test_a_tampered_or_stale_email_link_is_a_404(auth, client, factories, db, worker, mail):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/email", data={"email": "first@example.org"})
    worker()
    first_link = _mailed_link(mail)
    assert client.get(first_link[:-3] + "xyz").status_code == 404
    auth.post("/profile/email", data={"email": "second@example.org"})  # changed before confirming
    assert client.get(first_link).status_code == 404
    assert db.session.scalar(select(Contact.confirmed_at)) is None


@pytest.mark.parametrize("address", ["", "jana", "jana@", "a b@example.com", "x@example.com?cc=all@example.com"])
def test_a_bad_email_address_is_a_400_and_adds_nothing(auth, factories, db, mail, address):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    assert auth.post("/profile/email", data={"email": address}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_an_address_of_another_member_is_a_409(auth, factories, db, mail):
    factories.user("viewer", "Acme", email="jana@example.com")
    factories.user("viewer", "Acme", email="mojca@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/email", data={"email": "shared@example.org"})
    auth.logout()
    auth.login("mojca@example.com")
    answer = auth.post("/profile/email", data={"email": "Shared@example.org"})
    assert answer.status_code == 409 and "belongs to another member" in answer.get_data(as_text=True)


def test_without_mail_configured_adding_an_email_is_a_409_saying_so(auth, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    answer = auth.post("/profile/email", data={"email": "jana@example.org"})
    assert answer.status_code == 409 and "MAIL_URL" in answer.get_data(as_text=True)
