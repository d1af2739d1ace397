"""Players and linking: a member links a chat account with a one-time code the bot confirms; one identity per
member and channel; the bot API needs the workspace's current bot token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.gamenight.linking import link
from webapp.gamenight import night_settings, players
from webapp.notify.models import Contact


def test_a_member_links_a_chat_account_with_a_one_time_code(auth, chat_bot, factories, db):
    member = factories.user("viewer", "Acme", email="jana@example.com")
    answer = link(auth, chat_bot, "jana@example.com", "1111")
    assert answer.status_code == 200
    assert answer.get_json() == {"linked": True, "channel": "discord", "player": "Jana", "has_player_profile": True}
    contact = db.session.scalar(select(Contact))
    assert contact.user_id == member.user_id and contact.confirmed_at is not None
    assert contact.target_hint == "json://…4821" and "relay.example" not in contact.target_sealed
    assert players.is_linked(member.workspace_id, member.user_id)
    page = auth.get("/profile").get_data(as_text=True)
    assert "json://…4821" in page and "relay.example" not in page


def test_a_code_works_once_and_not_after_ten_minutes(auth, chat_bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/player", data={"display_name": "Jana"})
    actor = factories.user("viewer", "Acme", email="old@example.com")
    code, expires = players.new_link_code(actor)
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    assert chat_bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram", "external_id": "7"}).status_code == 200
    again = chat_bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram", "external_id": "7"})
    assert again.status_code == 404 and again.get_json()["error"] == "link_code_invalid"
    code, _ = players.new_link_code(actor)
    from webapp.gamenight.models import LinkCode

    db.session.scalar(select(LinkCode).where(LinkCode.used_at.is_(None))).expires_at = datetime.now(UTC)
    db.session.commit()
    assert chat_bot.post("/api/v1/link/confirm", {"code": code, "channel": "telegram",
                                             "external_id": "8"}).status_code == 404


def test_an_identity_linked_to_another_member_is_a_409_and_unlink_lets_it_move(auth, chat_bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    factories.user("viewer", "Acme", email="miha@example.com")
    assert link(auth, chat_bot, "jana@example.com", "1111").status_code == 200
    auth.logout()
    taken = link(auth, chat_bot, "miha@example.com", "1111", name="Miha")
    assert taken.status_code == 409 and taken.get_json()["error"] == "identity_taken"
    assert "already linked to another member" in taken.get_json()["message"]
    auth.logout()
    auth.login("jana@example.com")
    contact = db.session.scalar(select(Contact))
    assert auth.post(f"/profile/contacts/{contact.id}/unlink").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
    auth.logout()
    assert link(auth, chat_bot, "miha@example.com", "1111", name="Miha").status_code == 200


def test_a_second_account_on_the_same_channel_must_replace_the_first_by_unlinking(auth, chat_bot, factories):
    factories.user("viewer", "Acme", email="jana@example.com")
    assert link(auth, chat_bot, "jana@example.com", "1111").status_code == 200
    second = link(auth, chat_bot, "jana@example.com", "2222")
    assert second.status_code == 409 and second.get_json()["error"] == "channel_taken"


@pytest.mark.parametrize(("body", "status"), [
    ({"code": "", "channel": "discord", "external_id": "1"}, 400),
    ({"code": "ABCD", "channel": "irc", "external_id": "1"}, 400),
    ({"code": "ABCD", "channel": "discord", "external_id": ""}, 400),
    ({"code": "ABCD", "channel": "discord", "external_id": "1"}, 404),
])
def test_bad_link_confirmations_are_4xx_and_write_nothing(chat_bot, db, body, status):
    assert chat_bot.post("/api/v1/link/confirm", body).status_code == status
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_target_that_is_not_an_apprise_url_for_the_channel_is_a_400_and_never_echoed(auth, chat_bot, factories, db):
    factories.user("viewer", "Acme", email="jana@example.com")
    answer = link(auth, chat_bot, "jana@example.com", "1111", target="https://secret.example/abc")
    assert answer.status_code == 400 and "secret.example" not in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_the_bot_api_needs_the_workspaces_current_bot_token(client, factories):
    admin = factories.user("admin", "Acme")
    old = night_settings.rotate_bot_token(admin)
    new = night_settings.rotate_bot_token(admin)
    body = {"channel": "discord", "external_id": "1", "date": "today", "status": "available"}
    assert client.post("/api/v1/availability", json=body).status_code == 401
    assert client.post("/api/v1/availability", json=body, headers={"Authorization": f"Bearer {old}"}).status_code == 401
    answer = client.post("/api/v1/availability", json=body, headers={"Authorization": f"Bearer {new}"})
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_linked"
    assert "link code" in answer.get_json()["message"]


def _get_code(auth: Any) -> Any:
    return auth.post("/profile/link-code")


def test_five_open_link_codes_all_work_and_a_sixth_is_a_429_until_the_oldest_expires(auth, chat_bot, factories, db):
    from webapp.gamenight.models import LinkCode

    factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    auth.post("/profile/player", data={"display_name": "Jana"})
    codes = [_get_code(auth).get_data(as_text=True).split("Send <strong><code>", 1)[1].split("</code>", 1)[0]
             for _ in range(players.MAX_OPEN_LINK_CODES)]
    sixth = _get_code(auth)
    assert sixth.status_code == 429 and 540 < int(sixth.headers["Retry-After"]) <= 600
    assert "You have 5 unused link codes" in sixth.get_data(as_text=True) and "Send <strong>" not in sixth.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LinkCode)) == 5
    for code, (channel, external_id) in zip(codes[:2], [("telegram", "7"), ("signal", "+38640111222")], strict=True):
        assert chat_bot.post("/api/v1/link/confirm", {"code": code, "channel": channel,
                                                      "external_id": external_id}).status_code == 200
    assert _get_code(auth).status_code == 200  # a used code is no longer open


def test_ten_link_codes_an_hour_then_a_429_with_the_wait_and_the_hour_old_ones_are_deleted(auth, factories, db):
    from webapp.gamenight.models import LinkCode

    actor = factories.user("viewer", "Acme", email="jana@example.com")
    auth.login("jana@example.com")
    for _ in range(players.MAX_LINK_CODES_PER_HOUR):
        players.new_link_code(actor)
        db.session.execute(update(LinkCode).values(used_at=func.coalesce(LinkCode.used_at, LinkCode.created_at)))
        db.session.commit()
    eleventh = auth.post("/profile/link-code", headers={"Accept": "application/json"})
    assert eleventh.status_code == 429 and 3500 < int(eleventh.headers["Retry-After"]) <= 3600
    assert "10 link codes in an hour" in eleventh.get_data(as_text=True)
    for row in db.session.scalars(select(LinkCode)):
        row.created_at -= timedelta(minutes=61)
    db.session.commit()
    assert auth.post("/profile/link-code").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(LinkCode)) == 1
